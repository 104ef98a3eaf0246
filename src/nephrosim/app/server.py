"""The web app: a Starlette application serving server-rendered pages and a little JavaScript.

Pages
-----
``/builder``
    the scenario builder (a form generated from the schema, :mod:`nephrosim.app.forms`); load
    and save YAML; start a simulate or compare run.
``/runs``, ``/runs/{id}``
    this browser session's runs: progress, cancel, the interactive plot (arms overlaid, linear
    or log time), the compare tables, and downloads (CSV, Parquet, SBML of each arm, the
    scenario YAML).
``/mechanisms``
    Shapley attribution of the builder's scenario to the paracrine mechanisms (``attribute``).
``/sensitivity``
    global sensitivity (SALib Sobol', Morris, delta) of one readout of one arm of the builder's
    scenario at one time (``nephrosim sensitivity``).
``/trials``
    a virtual trial of an example or uploaded design (``nephrosim.trials.run_trial``).
``/protocols``
    a protocol search (cultivation and administration) in the builder's experiment
    (``nephrosim optimize-protocol``): the Pareto front of robust efficacy against the risks.
``/designs``
    a design search around the trial form's design (``nephrosim trial-design``): power and n of
    each candidate design, and the Pareto front.
``/parameters``
    the parameter table with units, ranges and provenance.

Each browser gets a random session cookie; runs and the builder's draft belong to it and no
other session can see them (:class:`nephrosim.app.runs.RunManager`). With a data folder
(``--data``, :class:`nephrosim.app.store.RunStore`) the runs outlive the server; the cookie
is kept by the browser for :data:`COOKIE_DAYS` days, so the same browser finds them again.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import re
import secrets
import tempfile
import threading
from collections import OrderedDict
from importlib import resources
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, \
    Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from nephrosim.app import design_form, forms, protocol_form, trial_form, worker
from nephrosim.app.runs import RunManager
from nephrosim.app.store import DraftStore, RunStore
from nephrosim.errors import UserInputError

log = logging.getLogger("nephrosim.app")

COOKIE = "nephrosim_session"
#: How long a browser keeps its session cookie (renewed by every visit): its saved runs stay
#: reachable across browser and server restarts for that long.
COOKIE_DAYS = 30
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")
#: Most browser sessions whose builder draft the server remembers (least recently used forgotten).
MAX_SESSIONS = 500
#: Most inputs one posted builder form may have (50 arms × 20 treatments × ~17 fields, and more).
MAX_FORM_FIELDS = 25_000
#: Largest scenario file accepted by "load YAML" (the same bound as the command line).
MAX_UPLOAD_BYTES = 2_000_000


class _SessionCookie(BaseHTTPMiddleware):
    """A random, HttpOnly, same-site session id per browser (its runs and its draft).

    The id is not signed (there is no server secret to lose on a restart): it is 144 random
    bits, unguessable, and the server keeps only its SHA-256."""

    async def dispatch(self, request, call_next):
        sid = request.cookies.get(COOKIE, "")
        if not _TOKEN.fullmatch(sid):
            sid = secrets.token_urlsafe(24)
        request.state.session = sid
        response = await call_next(request)
        if request.url.path != "/healthz":  # renewed by every visit
            response.set_cookie(COOKIE, sid, max_age=COOKIE_DAYS * 86400, httponly=True, samesite="strict", path="/")
        return response


class _Drafts:
    """The builder's draft scenario of each session: in memory (bounded, least recently used
    forgotten) and, with a data folder, on disk (:class:`nephrosim.app.store.DraftStore`), so a
    draft survives a reload, a closed browser and a server restart. The uncertainty band's settings
    (on, draws, seed, source) are kept with it, under :data:`BAND_KEY`, and are not part of the
    scenario: :meth:`get` leaves them out, :meth:`band` returns them."""

    #: the draft's key for the band settings (a scenario field never starts with "_")
    BAND_KEY = "_band"

    def __init__(self, store: DraftStore | None = None, default: dict | None = None):
        self._default = forms.DEFAULT_DRAFT if default is None else default
        self._lock = threading.Lock()
        self._drafts: OrderedDict[str, dict] = OrderedDict()
        self._store = store
        self._problems: dict[str, str] = {}  # sessions whose last draft is in memory only, and why

    def saved(self, sid: str) -> dict | None:
        """The session's own draft, or ``None`` when it has none (the form shows the example)."""
        with self._lock:
            if sid in self._drafts:
                self._drafts.move_to_end(sid)
                return self._drafts[sid]
        draft = self._store.get(sid) if self._store is not None else None
        if draft is not None:
            self._remember(sid, draft)
        return draft

    def get(self, sid: str) -> dict:
        """The session's draft scenario (the example when it has none), without the band settings."""
        draft = self.saved(sid)
        return self._default if draft is None else {k: v for k, v in draft.items() if k != self.BAND_KEY}

    def band(self, sid: str) -> dict | None:
        """The band settings kept with the session's draft (``None``: none kept, the form's defaults)."""
        draft = self.saved(sid)
        band = None if draft is None else draft.get(self.BAND_KEY)
        return band if isinstance(band, dict) else None

    def put(self, sid: str, draft: dict, band: dict | None = None) -> str:
        """Keep ``draft`` for ``sid`` with ``band`` (``None``: the band settings kept so far); the
        problem (a full disk) if it could only be kept in memory, else ``""``. The problem is logged,
        and said by the page that saved the draft."""
        band = band if band is not None else self.band(sid)
        draft = {k: v for k, v in draft.items() if k != self.BAND_KEY}
        if band is not None:
            draft[self.BAND_KEY] = {k: band[k] for k in ("on", "draws", "seed", "source") if k in band}
        self._remember(sid, draft)
        if self._store is None:
            return ""
        try:
            self._store.put(sid, draft)
        except UserInputError as exc:  # OutputError: read-only folder, full disk
            log.warning("nephrosim app: builder draft not saved: %s", exc)
            problem = (f"the draft is kept in memory only, not in the data folder ({exc}); it is lost when the server "
                       "stops")
            with self._lock:
                self._problems[sid] = problem
            return problem
        with self._lock:
            self._problems.pop(sid, None)
        return ""

    def problem(self, sid: str) -> str:
        """Why the session's last draft is in memory only (``""`` when it is kept on disk)."""
        with self._lock:
            return self._problems.get(sid, "")

    def discard(self, sid: str) -> None:
        with self._lock:
            self._drafts.pop(sid, None)
            self._problems.pop(sid, None)
        if self._store is not None:
            self._store.discard(sid)

    def _remember(self, sid: str, draft: dict) -> None:
        with self._lock:
            self._drafts[sid] = draft
            self._drafts.move_to_end(sid)
            while len(self._drafts) > MAX_SESSIONS:
                forgotten, _ = self._drafts.popitem(last=False)
                self._problems.pop(forgotten, None)


def _yaml(scenario) -> str:
    import yaml

    return yaml.safe_dump(scenario.model_dump(mode="json", exclude_none=True), sort_keys=False, allow_unicode=True)


def _attachment(body: bytes | str, filename: str, media_type: str) -> Response:
    return Response(body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:80] or "scenario"


def create_app(max_workers: int = 2, warm_up: bool = True, data: str | Path | RunStore | None = None) -> Starlette:
    """The app, with its own run manager (``max_workers`` runs compute at once).

    ``data``: the data folder that keeps the runs across restarts (a path, opened with
    :meth:`RunStore.open`, or an open store); ``None`` keeps them in memory only."""
    env = Environment(loader=PackageLoader("nephrosim.app", "templates"), autoescape=select_autoescape(),
                      trim_blocks=True, lstrip_blocks=True)
    store = data if isinstance(data, RunStore) or data is None else RunStore.open(data)
    manager = RunManager(max_workers, store)
    drafts = _Drafts(DraftStore(store.folder, COOKIE_DAYS) if store is not None else None)
    trial_drafts = _Drafts(DraftStore(store.folder, COOKIE_DAYS, "trial_drafts") if store is not None else None,
                           default=_default_trial())
    design_drafts = _Drafts(DraftStore(store.folder, COOKIE_DAYS, "design_drafts") if store is not None else None,
                            default=design_form.DEFAULT_SEARCH)
    protocol_drafts = _Drafts(DraftStore(store.folder, COOKIE_DAYS, "protocol_drafts") if store is not None else None,
                              default=protocol_form.DEFAULT_PROTOCOL_SEARCH)

    def page(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
        sid = request.state.session
        runs = manager.of_session(sid)
        html = env.get_template(template).render(request=request, active_runs=sum(r.active for r in runs),
                                                 n_runs=len(runs), **context)
        return HTMLResponse(html, status_code=status)

    def builder_page(request, draft, problems=(), errors=None, message="", status=200, band=None):
        return page(request, "builder.html", status, groups=forms.build_form(draft, errors), problems=problems,
                    draft_kept=drafts.saved(request.state.session) is not None,
                    draft_problem=drafts.problem(request.state.session),
                    message=message, parameter_names=_parameter_names(),
                    band=band or {**_band_form(), **(drafts.band(request.state.session) or {}), "error": ""},
                    band_limits=(worker.MIN_BAND_DRAWS, worker.MAX_BAND_DRAWS), band_sources=worker.BAND_SOURCES)

    async def builder(request: Request):
        return builder_page(request, drafts.get(request.state.session))

    async def builder_post(request: Request):
        sid = request.state.session
        form = await request.form(max_fields=MAX_FORM_FIELDS)
        action = str(form.get("_action", "refresh"))
        draft = forms.draft_from_form([(k, str(v)) for k, v in form.multi_items()])
        if action.split(":")[0] in ("add_arm", "remove_arm", "add_treatment", "remove_treatment"):
            draft = forms.apply_action(draft, action)
        drafts.put(sid, draft, _band_form(form))
        if action not in ("simulate", "compare", "ensemble", "save", "check"):
            return _redraw("/builder", form)
        scenario, problems, errors = forms.validate_draft(draft)
        if scenario is None:
            return builder_page(request, draft, problems, errors, status=422)
        if action == "save":
            return _attachment(_yaml(scenario), f"{_safe_name(scenario.name)}.yaml", "application/x-yaml")
        if action == "check":  # as `nephrosim check`: validated, and the model of every arm built
            from starlette.concurrency import run_in_threadpool

            from nephrosim.run.simulation import compile_scenario

            try:
                await run_in_threadpool(compile_scenario, scenario)
            except UserInputError as exc:
                return builder_page(request, draft, [str(exc)], status=422)
            return builder_page(request, draft, message=f"valid: {scenario.name}, {scenario.species}, "
                                f"{scenario.injury.model}, {len(scenario.arms)} arm(s), {len(scenario.readouts)} "
                                f"readout(s) at {len(scenario.times_h)} times")
        options = None
        if action == "ensemble":
            options, problems = _ensemble_options(form)
            if problems:
                return builder_page(request, draft, problems, status=422)
        if action in ("simulate", "compare") and form.get("_band"):
            band, problem = _band_options(form)
            if problem:
                return builder_page(request, draft, [problem], status=422, band={**_band_form(form), "error": problem})
            options = {"band": band}
        try:
            run = manager.submit(sid, action, scenario, options)
        except UserInputError as exc:
            return builder_page(request, draft, [str(exc)], status=429)
        return RedirectResponse(f"/runs/{run.id}", status_code=303)

    async def builder_load(request: Request):
        from nephrosim.scenarios.errors import read_mapping

        sid = request.state.session
        form = await request.form(max_files=1, max_part_size=MAX_UPLOAD_BYTES)
        upload = form.get("file")
        if upload is None or not getattr(upload, "filename", ""):
            return builder_page(request, drafts.get(sid), ["load: choose a scenario file (.yaml or .json) first"],
                                status=422)
        raw = await upload.read(MAX_UPLOAD_BYTES + 1)
        suffix = ".json" if upload.filename.lower().endswith(".json") else ".yaml"
        with tempfile.TemporaryDirectory() as tmp:  # the one bounded reader of input files reads a path
            path = Path(tmp) / f"upload{suffix}"
            path.write_bytes(raw)
            try:
                data = read_mapping(path)
            except UserInputError as exc:
                problems = [p.replace(str(path), upload.filename) for p in getattr(exc, "problems", [str(exc)])]
                return builder_page(request, drafts.get(sid), [f"{upload.filename}: {p}" for p in problems],
                                    status=422)
        if not isinstance(data, dict):
            return builder_page(request, drafts.get(sid), [f"{upload.filename}: not a scenario (a mapping of "
                                                           "fields is expected)"], status=422)
        scenario, problems, errors = forms.validate_draft(data)
        draft = scenario.model_dump(mode="json", exclude_none=True) if scenario is not None else data
        drafts.put(sid, draft)
        if scenario is None:
            return builder_page(request, draft, problems, errors, status=422)
        return builder_page(request, draft, message=f"loaded {upload.filename}")

    async def builder_new(request: Request):
        """Discard the session's draft (from memory and the data folder): the form shows the example."""
        drafts.discard(request.state.session)
        return RedirectResponse("/builder", status_code=303)

    async def builder_draft(request: Request):
        """Keep the form as it is typed (the page posts it a moment after each change): the draft
        survives a reload and a server restart. Answers what was kept, for the page to show."""
        form = await request.form(max_fields=MAX_FORM_FIELDS)
        draft = forms.draft_from_form([(k, str(v)) for k, v in form.multi_items()])
        problem = drafts.put(request.state.session, draft, _band_form(form))
        if problem:
            return JSONResponse({"saved": False, "error": problem}, status_code=507)
        return JSONResponse({"saved": True, "where": "server" if store is not None else "memory"})

    def _run_or_404(request: Request):
        return manager.get(request.state.session, request.path_params["run_id"])

    def not_found(request: Request, what: str):
        return page(request, "message.html", 404, title="Not found",
                    text=f"{what} is not one of this browser session's runs (runs are private to the browser "
                         "session that started them; a session keeps its last 30 runs).")

    async def runs_list(request: Request):
        return page(request, "runs.html", runs=manager.of_session(request.state.session))

    async def run_page(request: Request):
        run = _run_or_404(request)
        if run is None:
            return not_found(request, f"run {request.path_params['run_id']}")
        plan = _resume_plan(run, manager.kept_chunks(run)) if run.state == "interrupted" else ""
        if run.kind == "trial":
            return page(request, "trial_run.html", run=run, result=(run.payload or {}).get("trial"), resume_plan=plan)
        if run.kind == "design":
            return page(request, "design_run.html", run=run, resume_plan=plan,
                        result=_design_table(run) if run.payload else None)
        if run.kind == "protocol":
            return page(request, "protocol_run.html", run=run, resume_plan=plan,
                        result=_protocol_front(run) if run.payload else None)
        if run.kind == "mechanisms":
            return page(request, "mechanisms_run.html", run=run, about=_describe(run.scenario), resume_plan=plan,
                        mech=_mechanism_table(run) if run.payload else None)
        if run.kind == "sensitivity":
            return page(request, "sensitivity_run.html", run=run, about=_describe(run.scenario), resume_plan=plan,
                        sens=_sensitivity_table(run) if run.payload else None)
        notes = [(arm, code, text) for arm, (code, text) in (run.payload or {}).get("statuses", {}).items()
                 if code != "ok"]
        return page(request, "run.html", run=run, notes=notes, about=_describe(run.scenario), resume_plan=plan,
                    plot=_plot_data(run) if run.payload else None,
                    tables=_compare_tables(run) if run.payload and "efficacy" in run.payload else None)

    async def run_status(request: Request):
        run = _run_or_404(request)
        if run is None:
            return JSONResponse({"error": "no such run in this session"}, status_code=404)
        return JSONResponse(run.status())

    async def run_cancel(request: Request):
        run = manager.cancel(request.state.session, request.path_params["run_id"])
        if run is None:
            return not_found(request, f"run {request.path_params['run_id']}")
        return RedirectResponse(f"/runs/{run.id}", status_code=303)

    async def run_resume(request: Request):
        """Start an interrupted run again from its stored request (its chunks kept, if any)."""
        try:
            run = manager.resume(request.state.session, request.path_params["run_id"])
        except UserInputError as exc:
            return page(request, "message.html", 409, title="Cannot resume", text=str(exc))
        if run is None:
            return not_found(request, f"run {request.path_params['run_id']}")
        return RedirectResponse(f"/runs/{run.id}", status_code=303)

    async def run_edit(request: Request):
        """Open this run's scenario in the builder (to change an arm and run again)."""
        run = _run_or_404(request)
        if run is None or run.kind in ("trial", "design", "protocol"):  # a design or a search is not a scenario
            return not_found(request, f"scenario run {request.path_params['run_id']}")
        drafts.put(request.state.session, run.scenario)
        return RedirectResponse("/builder", status_code=303)

    async def run_download(request: Request):
        run = _run_or_404(request)
        if run is None:
            return not_found(request, f"run {request.path_params['run_id']}")
        what = request.path_params["what"]
        stem = _safe_name(run.scenario_name)
        if run.kind in ("trial", "mechanisms", "sensitivity", "design", "protocol"):
            return await _study_download(run, what, stem)
        if what == "scenario.yaml":
            from nephrosim.scenarios.schema import scenario_from_dict

            return _attachment(_yaml(scenario_from_dict(run.scenario)), f"{stem}.yaml", "application/x-yaml")
        if what == "model.xml":
            from starlette.concurrency import run_in_threadpool

            from nephrosim.run.simulation import export_sbml

            arm = request.query_params.get("arm", run.arms[0])
            if arm not in run.arms:
                return PlainTextResponse(f"arm {arm!r} is not an arm of this run; arms: {list(run.arms)}", 404)
            sbml = await run_in_threadpool(export_sbml, run.scenario, arm)
            return _attachment(sbml, f"{stem}_{_safe_name(arm)}.xml", "application/sbml+xml")
        if run.payload is None:
            return PlainTextResponse(f"run {run.id} has no results yet (state: {run.state})", 409)
        if what == "report.html" and "result" in run.payload:
            from starlette.concurrency import run_in_threadpool

            html = await run_in_threadpool(_simulate_report_html, run)
            return _attachment(html, f"{stem}_report.html", "text/html")
        frames = {"results": _results_frame(run.payload), "efficacy": run.payload.get("efficacy"),
                  "risk": run.payload.get("risk"), "bands": run.payload.get("bands")}
        name, _, ext = what.partition(".")
        frame = frames.get(name)
        if frame is None or ext not in ("csv", "parquet"):
            return PlainTextResponse(f"no download {what!r} for this run", 404)
        if ext == "csv":
            from nephrosim.io import neutralise_formulas

            return _attachment(neutralise_formulas(frame).to_csv(index=False), f"{stem}_{name}.csv", "text/csv")
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        return _attachment(buf.getvalue(), f"{stem}_{name}.parquet", "application/vnd.apache.parquet")

    async def parameters(request: Request):
        from nephrosim.biology.parameters import PROVENANCE_KINDS, SPECIES, ParameterTable

        species = request.query_params.get("species", "")
        text = request.query_params.get("name", "").strip()
        provenance = request.query_params.get("provenance", "")
        records = list(ParameterTable.default().records)
        problems = []
        if species and species not in SPECIES:
            problems.append(f"species {species!r}: use one of {', '.join(SPECIES)}")
        elif species:
            records = [r for r in records if r.species in (species, "all")]
        if provenance and provenance not in PROVENANCE_KINDS:
            problems.append(f"provenance {provenance!r}: use one of {', '.join(PROVENANCE_KINDS)}")
        elif provenance:
            records = [r for r in records if r.provenance == provenance]
        if text:
            records = [r for r in records if text.lower() in r.name.lower() or text.lower() in r.description.lower()]
        return page(request, "parameters.html", records=records, species=species, name=text, provenance=provenance,
                    all_species=SPECIES, kinds=PROVENANCE_KINDS, problems=problems)

    async def evidence(request: Request):
        from starlette.concurrency import run_in_threadpool

        query = {k: request.query_params.get(k, "").strip() for k in ("readout", "injury", "species", "product",
                                                                       "by")}
        context = await run_in_threadpool(_evidence_context, query)
        return page(request, "evidence.html", 422 if context["problems"] else 200, query=query, **context)

    def trials_page(request, draft=None, problems=(), errors=None, message="", status=200, chosen="", settings=None):
        sid = request.state.session
        draft = trial_drafts.get(sid) if draft is None else draft
        return page(request, "trials.html", status, examples=_trial_examples(), chosen=chosen,
                    fields=_typed_settings(TRIAL_FIELDS, settings),
                    groups=trial_form.build_form(draft, errors), problems=problems, message=message,
                    draft_kept=trial_drafts.saved(sid) is not None, draft_problem=trial_drafts.problem(sid))

    async def trials(request: Request):
        return trials_page(request)

    async def trials_load(request: Request):
        """Put a packaged example design, or an uploaded trial YAML, into the form."""
        from nephrosim.trials import load_trial

        form = await request.form(max_files=1, max_part_size=MAX_UPLOAD_BYTES)
        upload, example = form.get("file"), str(form.get("example", ""))
        problems, design, label = [], None, ""
        try:
            if upload is not None and getattr(upload, "filename", ""):
                label = upload.filename
                raw = await upload.read(MAX_UPLOAD_BYTES + 1)
                suffix = ".json" if upload.filename.lower().endswith(".json") else ".yaml"
                with tempfile.TemporaryDirectory() as tmp:
                    path = Path(tmp) / f"upload{suffix}"
                    path.write_bytes(raw)
                    try:
                        design = load_trial(path)
                    except UserInputError as exc:
                        problems += [f"{upload.filename}: {p.replace(str(path), upload.filename)}"
                                     for p in getattr(exc, "problems", None) or [str(exc)]]
            elif example in _trial_examples():
                label, design = example, load_trial(_trial_examples()[example])
            else:
                problems.append("load: choose an example design or a trial YAML file to upload (see docs/trials.md)")
        except UserInputError as exc:
            problems.append(str(exc))
        if problems or design is None:
            return trials_page(request, problems=problems, status=422, chosen=example)
        draft = design.model_dump(mode="json", exclude_unset=True)
        trial_drafts.put(request.state.session, draft)
        return trials_page(request, draft, message=f"loaded {label}: {design.name}", chosen=example)

    async def trials_post(request: Request):
        """The trial form's buttons: redraw (add or remove an arm, a treatment, ...), check, save the
        design as YAML, or run it as a virtual trial (``nephrosim.trials.run_trial``)."""
        sid = request.state.session
        form, action, draft, redraw = await posted_form(request, trial_drafts, trial_form.draft_from_form,
                                                        trial_form.apply_action, "/trials")
        if redraw is not None:
            return redraw
        design, problems, errors = trial_form.validate_draft(draft)
        if design is None:
            return trials_page(request, draft, problems, errors, status=422, settings=form)
        if action == "save":
            return _attachment(_trial_yaml(design), f"{_safe_name(design.name)}.yaml", "application/x-yaml")
        if action == "check":
            treated = sum(a.treatment is not None for a in design.arms)
            return trials_page(request, draft, message=(
                f"valid: {design.name}, {len(design.arms)} arms ({treated} treated, "
                f"{sum(a.n for a in design.arms)} patients per replicate), {design.virtual_patients} virtual patients, "
                f"primary endpoint {design.endpoints.primary}"), settings=form)
        options, problems = _number_options(form, TRIAL_FIELDS)
        if problems:
            return trials_page(request, draft, problems, status=422, settings=form)
        try:
            run = manager.submit(sid, "trial", design, options)
        except UserInputError as exc:
            return trials_page(request, draft, [str(exc)], status=429, settings=form)
        return RedirectResponse(f"/runs/{run.id}", status_code=303)

    def draft_handlers(kept: _Drafts, read, path: str, what: str):
        """The two draft routes of a schema-generated form page (trial, design search, protocol
        search): keep the form as it is typed (``read`` turns the posted pairs into a draft; it
        survives a reload and a restart), and forget it (the page then shows its default)."""
        async def keep(request: Request):
            form = await request.form(max_fields=MAX_FORM_FIELDS)
            problem = kept.put(request.state.session, read(form.multi_items()))
            if problem:
                return JSONResponse({"saved": False, "error": problem}, status_code=507)
            return JSONResponse({"saved": True, "where": "server" if store is not None else "memory"})

        async def discard(request: Request):
            kept.discard(request.state.session)
            return RedirectResponse(path, status_code=303)

        keep.__doc__ = f"Keep the {what} form as it is typed (survives a reload and a restart)."
        discard.__doc__ = f"Forget the session's {what} draft: the form shows the default."
        return keep, discard

    async def posted_form(request: Request, kept: _Drafts, read, apply, path: str):
        """What a schema-form page (trial, design search, protocol search) was posted: ``(form, action,
        draft, redraw)``. The draft is read (``read``), an *add* / *remove* button applied (``apply``; a
        page without such buttons passes ``None``) and kept for the session; for any action but run,
        check and save, ``redraw`` is the redirect that redraws the page, else ``None``."""
        form = await request.form(max_fields=MAX_FORM_FIELDS)
        action = str(form.get("_action", "refresh"))
        draft = read(form.multi_items())
        if apply is not None and action.startswith(("add:", "remove:")):
            draft = apply(draft, action)
        kept.put(request.state.session, draft)
        redraw = None if action in ("run", "check", "save") else _redraw(path, form)
        return form, action, draft, redraw

    trials_draft, trials_new = draft_handlers(trial_drafts, trial_form.draft_from_form, "/trials", "trial")
    designs_draft, designs_new = draft_handlers(design_drafts, design_form.draft_from_form, "/designs",
                                                "design-search")
    protocols_draft, protocols_new = draft_handlers(protocol_drafts, protocol_form.draft_from_form, "/protocols",
                                                    "protocol-search")

    def _trial_base(sid):
        """The trial form's design of the session (the base of its design search), or ``None``."""
        return trial_form.validate_draft(trial_drafts.get(sid))[0]

    def designs_page(request, draft=None, problems=(), errors=None, message="", status=200, settings=None):
        sid = request.state.session
        draft = design_drafts.get(sid) if draft is None else draft
        base = _trial_base(sid)
        return page(request, "designs.html", status, groups=design_form.build_form(draft, errors), base=base,
                    base_arms=[(a.name, a.n, _arm_text(a)) for a in base.arms] if base else [],
                    problems=problems, message=message, fields=_typed_settings(DESIGN_FIELDS, settings),
                    draft_kept=design_drafts.saved(sid) is not None, draft_problem=design_drafts.problem(sid))

    async def designs(request: Request):
        return designs_page(request)

    async def designs_post(request: Request):
        """The design-search form's buttons: redraw (add or remove an entry rule, a timing, a
        treatment, the uncertainty block), check, save the search as YAML (the base trial written
        into it), or run it (``nephrosim.trials.search.run_search``) in the background."""
        from nephrosim.trials.search import candidates

        sid = request.state.session
        form, action, draft, redraw = await posted_form(request, design_drafts, design_form.draft_from_form,
                                                        design_form.apply_action, "/designs")
        if redraw is not None:
            return redraw
        base = _trial_base(sid)
        spec, problems, errors = design_form.validate_draft(draft, base)
        if spec is None:
            return designs_page(request, draft, settings=form, problems=problems, errors=errors, status=422)
        if action == "save":
            return _attachment(_trial_yaml(spec), f"{_safe_name(spec.name)}.yaml", "application/x-yaml")
        cands = candidates(spec, base)
        runnable = [c for c in cands if c.design is not None]
        if action == "check" or not runnable:
            skipped = [c.skipped for c in cands if c.design is None]
            text = (f"{len(cands)} candidate designs around {base.name}: {len(runnable)} can run"
                    + (f", {len(skipped)} are skipped (e.g. {skipped[0]})" if skipped else ""))
            if not runnable:
                return designs_page(request, draft, settings=form, status=422,
                                    problems=[f"candidates: none of the designs can run; {text}"])
            return designs_page(request, draft, settings=form, message=f"valid: {spec.name}, {text}")
        options, problems = _number_options(form, DESIGN_FIELDS)
        if not problems and options["seed"] < 0:
            problems.append(f"seed: {options['seed']} is negative; use a whole number >= 0")
        if problems:
            return designs_page(request, draft, settings=form, problems=problems, status=422)
        try:
            run = manager.submit(sid, "design", spec, options)
        except UserInputError as exc:
            return designs_page(request, draft, settings=form, problems=[str(exc)], status=429)
        return RedirectResponse(f"/runs/{run.id}", status_code=303)

    def protocols_page(request, draft=None, problems=(), errors=None, message="", status=200):
        sid = request.state.session
        draft = protocol_drafts.get(sid) if draft is None else draft
        scenario, scenario_problems, _ = forms.validate_draft(drafts.get(sid))
        return page(request, "protocols.html", status, groups=protocol_form.build_form(draft, errors),
                    scenario=scenario, scenario_problems=scenario_problems,
                    about=_describe(scenario.model_dump(mode="json")) if scenario is not None else None,
                    problems=problems, message=message,
                    draft_kept=protocol_drafts.saved(sid) is not None, draft_problem=protocol_drafts.problem(sid))

    async def protocols(request: Request):
        return protocols_page(request)

    async def protocols_post(request: Request):
        """The protocol-search form's buttons: check, save the spec as YAML (the builder's experiment
        written into it), or run it (``optimize_protocol``) in the background."""
        sid = request.state.session
        form, action, draft, redraw = await posted_form(request, protocol_drafts, protocol_form.draft_from_form,
                                                        None, "/protocols")
        if redraw is not None:
            return redraw
        scenario, _, _ = forms.validate_draft(drafts.get(sid))
        spec, problems, errors = protocol_form.validate_draft(draft, scenario)
        if spec is None:
            return protocols_page(request, draft, problems, errors, status=422)
        if action == "save":
            return _attachment(_trial_yaml(spec), f"{_safe_name(spec.name)}.yaml", "application/x-yaml")
        if action == "check":
            s = spec.search
            return protocols_page(request, draft, message=(
                f"valid: {spec.name} in {spec.scenario['species']} {spec.scenario['injury']['model']}: "
                f"{spec.optimizer.trials} trials in generations of {spec.optimizer.population}, "
                f"{spec.uncertainty.samples} parameter sets per candidate; products {', '.join(s.product)}, "
                f"routes {', '.join(s.route)}; objectives: {spec.outcome} efficacy, {', '.join(spec.risks)}"))
        try:
            run = manager.submit(sid, "protocol", spec, {})
        except UserInputError as exc:
            return protocols_page(request, draft, [str(exc)], status=429)
        return RedirectResponse(f"/runs/{run.id}", status_code=303)

    def mechanisms_page(request, problems=(), status=200):
        from nephrosim.analysis.attribution import OUTCOMES

        scenario, draft_problems, _ = forms.validate_draft(drafts.get(request.state.session))
        return page(request, "mechanisms.html", status, scenario=scenario, draft_problems=draft_problems,
                    about=_describe(scenario.model_dump(mode="json")) if scenario is not None else None,
                    outcomes=OUTCOMES, fields=MECHANISM_FIELDS, problems=problems)

    async def mechanisms(request: Request):
        return mechanisms_page(request)

    async def mechanisms_post(request: Request):
        """Attribute the builder's current scenario to the paracrine mechanisms, in the background."""
        from nephrosim.analysis.attribution import OUTCOMES

        form = await request.form()
        options, problems = _number_options(form, MECHANISM_FIELDS)
        options["outcome"] = str(form.get("outcome", "scr_auc"))
        if options["outcome"] not in OUTCOMES:
            problems.append(f"outcome {options['outcome']!r}: use one of {', '.join(OUTCOMES)}")
        scenario, draft_problems, _ = forms.validate_draft(drafts.get(request.state.session))
        if scenario is None:
            problems += draft_problems
        elif not any(a.treatments for a in scenario.arms) or all(a.treatments for a in scenario.arms):
            problems.append("arms: the attribution needs an untreated (vehicle) arm and at least one treated arm; "
                            "change the arms in the scenario builder")
        if problems:
            return mechanisms_page(request, problems, 422)
        try:
            run = manager.submit(request.state.session, "mechanisms", scenario, options)
        except UserInputError as exc:
            return mechanisms_page(request, [str(exc)], 429)
        return RedirectResponse(f"/runs/{run.id}", status_code=303)

    def sensitivity_page(request, problems=(), status=200, typed=None):
        from nephrosim.analysis.sensitivity import METHODS
        from nephrosim.biology.readouts import available_readouts

        scenario, draft_problems, _ = forms.validate_draft(drafts.get(request.state.session))
        if typed is None:
            typed = {"method": "sobol", "readout": "serum_creatinine", "at_h": "24", "samples": "8", "seed": "0",
                     "groups": True, "parameters": "",
                     "arm": next((a.name for a in scenario.arms if a.treatments), scenario.arms[0].name)
                     if scenario is not None else ""}
        return page(request, "sensitivity.html", status, scenario=scenario, draft_problems=draft_problems,
                    about=_describe(scenario.model_dump(mode="json")) if scenario is not None else None,
                    methods=METHODS, readouts=sorted(available_readouts()), typed=typed, problems=problems,
                    cap=worker.MAX_APP_SENSITIVITY_SIMULATIONS)

    async def sensitivity(request: Request):
        return sensitivity_page(request)

    async def sensitivity_post(request: Request):
        """Global sensitivity of one readout of the builder's current scenario, in the background."""
        from nephrosim.analysis.sensitivity import check_design

        form = await request.form()
        typed = {k: str(form.get(k, "")).strip() for k in ("method", "readout", "at_h", "arm", "samples", "seed",
                                                             "parameters")}
        typed["groups"] = bool(form.get("groups"))
        options, problems = _number_options(form, SENSITIVITY_FIELDS)
        options.update(method=typed["method"], readout=typed["readout"], arm=typed["arm"], groups=typed["groups"],
                       parameters=[p for p in re.split(r"[\s,;]+", typed["parameters"]) if p])
        if not problems:
            try:
                check_design(options["method"], options["samples"], options["groups"])
            except UserInputError as exc:
                problems.append(str(exc))
            if not (math.isfinite(options["at_h"]) and options["at_h"] >= 0):
                problems.append(f"at_h: {typed['at_h']!r} is not a time after the insult; give hours >= 0")
            if options["seed"] < 0:
                problems.append(f"seed: {options['seed']} is negative; use a whole number >= 0")
        unknown = [n for n in options["parameters"] if n not in _table_names()]
        if unknown:
            problems.append(f"parameters: {', '.join(_did_you_mean(n, _table_names()) for n in unknown)} not in the "
                            "parameter table; the Parameters page lists its names")
        scenario, draft_problems, _ = forms.validate_draft(drafts.get(request.state.session))
        if scenario is None:
            problems += draft_problems
        elif options["arm"] not in {a.name for a in scenario.arms}:
            problems.append(f"arm {options['arm']!r} is not an arm of the scenario; use one of "
                            f"{', '.join(a.name for a in scenario.arms)}")
        if problems:
            return sensitivity_page(request, problems, 422, typed)
        try:
            run = manager.submit(request.state.session, "sensitivity", scenario, options)
        except UserInputError as exc:
            return sensitivity_page(request, [str(exc)], 429, typed)
        return RedirectResponse(f"/runs/{run.id}", status_code=303)

    async def plotly_js(request: Request):
        return FileResponse(resources.files("plotly") / "package_data" / "plotly.min.js",
                            media_type="text/javascript")

    async def healthz(request: Request):
        return PlainTextResponse("ok")

    async def home(request: Request):
        return RedirectResponse("/builder", status_code=303)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        if warm_up:
            threading.Thread(target=manager.warm_up, daemon=True, name="warm-up").start()
        yield
        manager.shutdown()

    routes = [
        Route("/", home),
        Route("/healthz", healthz),
        Route("/builder", builder, methods=["GET"]),
        Route("/builder", builder_post, methods=["POST"]),
        Route("/builder/load", builder_load, methods=["POST"]),
        Route("/builder/new", builder_new, methods=["POST"]),
        Route("/builder/draft", builder_draft, methods=["POST"]),
        Route("/runs/{run_id:str}/resume", run_resume, methods=["POST"]),
        Route("/runs", runs_list),
        Route("/runs/{run_id:str}", run_page),
        Route("/runs/{run_id:str}/cancel", run_cancel, methods=["POST"]),
        Route("/runs/{run_id:str}/edit", run_edit, methods=["POST"]),
        Route("/runs/{run_id:str}/download/{what:str}", run_download),
        Route("/api/runs/{run_id:str}", run_status),
        Route("/trials", trials, methods=["GET"]),
        Route("/trials", trials_post, methods=["POST"]),
        Route("/trials/load", trials_load, methods=["POST"]),
        Route("/trials/new", trials_new, methods=["POST"]),
        Route("/trials/draft", trials_draft, methods=["POST"]),
        Route("/protocols", protocols, methods=["GET"]),
        Route("/protocols", protocols_post, methods=["POST"]),
        Route("/protocols/new", protocols_new, methods=["POST"]),
        Route("/protocols/draft", protocols_draft, methods=["POST"]),
        Route("/designs", designs, methods=["GET"]),
        Route("/designs", designs_post, methods=["POST"]),
        Route("/designs/new", designs_new, methods=["POST"]),
        Route("/designs/draft", designs_draft, methods=["POST"]),
        Route("/mechanisms", mechanisms, methods=["GET"]),
        Route("/mechanisms", mechanisms_post, methods=["POST"]),
        Route("/sensitivity", sensitivity, methods=["GET"]),
        Route("/sensitivity", sensitivity_post, methods=["POST"]),
        Route("/parameters", parameters),
        Route("/evidence", evidence),
        Route("/static/plotly.min.js", plotly_js),
        Mount("/static", StaticFiles(packages=[("nephrosim.app", "static")]), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(_SessionCookie)], lifespan=lifespan)
    app.state.runs = manager
    return app


#: The ensemble settings of the builder: (form name, option, type, default).
ENSEMBLE_FIELDS = (("_ens_samples", "samples", int, 100), ("_ens_cv", "cv", float, 0.3), ("_ens_seed", "seed", int, 0))


#: The virtual trial's settings: (form name, option, type, default).
TRIAL_FIELDS = (("_replicates", "replicates", int, 200), ("_seed", "seed", int, 0))
#: The design search's run settings (its replicates are a field of the search).
DESIGN_FIELDS = (("_seed", "seed", int, 0),)
#: The attribution's settings (the outcome is chosen from a list).
MECHANISM_FIELDS = (("samples", "samples", int, 8), ("seed", "seed", int, 0), ("cv", "cv", float, 0.3))
#: The sensitivity page's numbers: (form name, option, type, default).
SENSITIVITY_FIELDS = (("at_h", "at_h", float, 24.0), ("samples", "samples", int, 8), ("seed", "seed", int, 0))


def _table_names() -> set[str]:
    from nephrosim.biology.parameters import ParameterTable

    return set(ParameterTable.default().names())


def _did_you_mean(name: str, known) -> str:
    import difflib

    close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
    return f"{name!r}" + (f" (did you mean {', '.join(map(repr, close))}?)" if close else "")


def _typed_settings(fields, form=None) -> tuple:
    """A page's run settings ``(form name, option, type, shown value)``: what was typed in ``form``
    (a page redrawn after *Check* or a refusal keeps it), else the default."""
    if form is None:
        return fields
    return tuple((name, option, kind, str(form.get(name, default))) for name, option, kind, default in fields)


def _number_options(form, fields, what: str = "") -> tuple[dict, list[str]]:
    """Numbers typed into a page's settings (blank: the default), or the problems with them
    (each named ``what option``)."""
    options, problems = {}, []
    for name, option, kind, default in fields:
        text = str(form.get(name, "")).strip()
        try:
            options[option] = kind(text) if text else default
        except ValueError:
            problems.append(f"{what}{option}: {text!r} is not a {'whole ' if kind is int else ''}number")
    return options, problems


def _redraw(path: str, form) -> RedirectResponse:
    """Post/redirect/get after a form was redrawn (an arm added, a product changed): a reload of the
    redrawn form does not post it again, and the page opens where the user was (the group of the
    button or the select they used, sent as ``_anchor``)."""
    anchor = str(form.get("_anchor", ""))
    return RedirectResponse(path + (f"#{anchor}" if re.fullmatch(r"[A-Za-z0-9_-]+", anchor) else ""), status_code=303)


def _default_trial() -> dict:
    """The trial form's design when a session has none: :data:`nephrosim.app.trial_form.DEFAULT_TRIAL`."""
    return trial_form.DEFAULT_TRIAL


def _trial_yaml(design) -> str:
    """A trial design as YAML: the fields it was given (``exclude_unset``), which reloads to the same design."""
    import yaml

    return yaml.safe_dump(design.model_dump(mode="json", exclude_unset=True), sort_keys=False, allow_unicode=True)


def _trial_examples() -> dict[str, Path]:
    """The example trial designs of a source checkout (``examples/trials/*.yaml``), by file name.
    An installed wheel has none; the page then offers the upload only."""
    import nephrosim

    folder = Path(nephrosim.__file__).resolve().parents[2] / "examples" / "trials"
    if not folder.is_dir():
        return {}
    # a design search (`nephrosim trial-design`) names its base trial: it is not a trial itself
    return {p.name: p for p in sorted(folder.glob("*.yaml"))
            if not re.search(r"^base:", p.read_text(encoding="utf-8"), re.MULTILINE)}


async def _study_download(run, what: str, stem: str) -> Response:
    """Downloads of a trial run (its design YAML, its result JSON as ``nephrosim trial --json``),
    of a mechanisms run (the scenario YAML, the shares as CSV and JSON) and of a sensitivity run (the
    scenario YAML, the indices as CSV and as ``nephrosim sensitivity --json``)."""
    import json

    if what == "search.yaml" and run.kind == "protocol":
        from nephrosim.analysis.protocol_search import as_spec

        return _attachment(_trial_yaml(as_spec(run.scenario)[0]), f"{stem}.yaml", "application/x-yaml")
    if run.kind == "protocol" and what in ("front.csv", "trials.csv") and run.payload is not None:
        from nephrosim.io import neutralise_formulas

        frame = run.payload[what.removesuffix(".csv")]
        return _attachment(neutralise_formulas(frame).to_csv(index=False), f"{stem}_{what}", "text/csv")
    if what == "search.yaml" and run.kind == "design":
        from nephrosim.trials.search import search_from_dict

        return _attachment(_trial_yaml(search_from_dict(run.scenario)), f"{stem}.yaml", "application/x-yaml")
    if what in ("scenario.yaml", "trial.yaml"):
        if run.kind == "trial":
            from nephrosim.trials import trial_from_dict

            return _attachment(_trial_yaml(trial_from_dict(run.scenario)), f"{stem}.yaml", "application/x-yaml")
        from nephrosim.scenarios.schema import scenario_from_dict

        return _attachment(_yaml(scenario_from_dict(run.scenario)), f"{stem}.yaml", "application/x-yaml")
    if run.payload is None:
        return PlainTextResponse(f"run {run.id} has no results yet (state: {run.state})", 409)
    if run.kind == "trial" and what == "result.json":
        return _attachment(json.dumps(run.payload["trial"], indent=2, allow_nan=False), f"{stem}_trial.json",
                           "application/json")
    if run.kind == "mechanisms" and what == "mechanisms.json":
        body = {"scenario": run.scenario_name, "outcome": run.payload["outcome"], "unit": run.payload["unit"],
                "vehicle": run.payload["vehicle"], "vehicle_outcome": run.payload["vehicle_outcome"],
                "options": run.payload["options"], "arms": run.payload["attribution"]}
        return _attachment(json.dumps(body, indent=2), f"{stem}_mechanisms.json", "application/json")
    if run.kind == "mechanisms" and what == "mechanisms.csv":
        from nephrosim.io import neutralise_formulas

        return _attachment(neutralise_formulas(run.payload["frame"]).to_csv(index=False), f"{stem}_mechanisms.csv",
                           "text/csv")
    if run.kind == "design" and what == "designs.csv":
        from nephrosim.io import neutralise_formulas

        return _attachment(neutralise_formulas(run.payload["table"]).to_csv(index=False), f"{stem}_designs.csv",
                           "text/csv")
    if run.kind == "design" and what == "designs.json":  # as `nephrosim trial-design --json`
        rows = json.loads(run.payload["table"].to_json(orient="records"))
        return _attachment(json.dumps({**run.payload["summary"], "table": rows}, indent=2, allow_nan=False,
                                      default=str), f"{stem}_designs.json", "application/json")
    if run.kind == "design" and what == "report.html":
        from starlette.concurrency import run_in_threadpool

        return HTMLResponse(await run_in_threadpool(_design_report_html, run), headers={
            "Content-Disposition": f'attachment; filename="{stem}_design_report.html"'})
    if run.kind == "sensitivity" and what == "sensitivity.json":
        return _attachment(json.dumps(run.payload["sensitivity"], indent=2), f"{stem}_sensitivity.json",
                           "application/json")
    if run.kind == "sensitivity" and what == "sensitivity.csv":
        from nephrosim.io import neutralise_formulas

        return _attachment(neutralise_formulas(run.payload["frame"]).to_csv(index=False), f"{stem}_sensitivity.csv",
                           "text/csv")
    return PlainTextResponse(f"no download {what!r} for this run", 404)


#: The report's "command line": what made the run.
REPORT_ARGV = ("nephrosim", "app")
_REPORT_LOCK = threading.Lock()  # matplotlib's pyplot state is not thread-safe


def _simulate_report_html(run) -> str:
    """The self-contained HTML report of ``nephrosim simulate --report`` for a run's result."""
    from nephrosim.engine.simulator import TrajectoryStatus
    from nephrosim.report import render, simulate_report
    from nephrosim.run.simulation import SimulationResult
    from nephrosim.scenarios.schema import scenario_from_dict

    parts = run.payload["result"]
    result = SimulationResult(scenario_from_dict(run.scenario), parts["times_h"], parts["values"], parts["units"],
                              {arm: TrajectoryStatus(code, text) for arm, (code, text) in run.payload["statuses"].items()})
    with _REPORT_LOCK:
        return render(simulate_report(result, argv=REPORT_ARGV))


def _mechanism_table(run) -> dict:
    """Per treated arm: each mechanism's share of the paracrine benefit with its interval, and the
    total the shares sum to (Shapley efficiency)."""
    from nephrosim.analysis.attribution import OUTCOMES

    p = run.payload
    arms = []
    for arm, r in p["attribution"].items():
        shares = [{"mechanism": m, "value": v["value"], "lo": v["lo"], "hi": v["hi"],
                   "fraction": v["fraction"] if math.isfinite(v["fraction"]) else None}
                  for m, v in r["shares"].items()]
        arms.append({"arm": arm, "total": r["total"], "total_lo": r["total_lo"], "total_hi": r["total_hi"],
                     "vs_vehicle": r["vs_vehicle"], "non_paracrine": r["non_paracrine"], "draws": r["draws"],
                     "conf_level": r["conf_level"], "shares": shares})
    outcome = OUTCOMES[p["outcome"]]
    return {"outcome": p["outcome"], "description": outcome.description, "unit": p["unit"],
            "higher_is_better": outcome.higher_is_better, "vehicle": p["vehicle"],
            "vehicle_outcome": p["vehicle_outcome"], "options": p["options"], "arms": arms}


def _arm_text(arm) -> str:
    """A trial arm's treatment and timing in a few words."""
    t = arm.treatment
    if t is None:
        return "placebo"
    return f"{t.product} {t.dose:g} {t.dose_unit} {t.route}, {arm.timing.delay_h:g} h after {arm.timing.relative_to}"


def _records(frame) -> list[dict]:
    """A table's rows as plain Python values, floats exact (``to_json`` rounds them), NaN as ``None``."""
    def plain(v):
        v = v.item() if hasattr(v, "item") else v
        return None if isinstance(v, float) and not math.isfinite(v) else v

    return [{k: plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _protocol_front(run) -> dict:
    """A protocol search's Pareto front for its page (and every finished trial, for the plot)."""
    p = run.payload
    spec = run.scenario
    return {"front": _records(p["front"]), "trials": _records(p["trials"]), "risks": list(spec["risks"]),
            "outcome": spec["outcome"], "scale": spec["efficacy_scale"], "quantile": spec["efficacy_quantile"],
            "completed": p["completed"], "failed": p["failed"], "failures": p["failures"]}


def _design_table(run) -> dict:
    """A design search's ranked table for its page: the runnable designs (with the Pareto front
    marked) and the skipped ones with their reasons, and the summary."""
    table = run.payload["table"]
    ok = table["skipped"] == ""
    return {"rows": _records(table[ok]), "skipped": _records(table[~ok]), "summary": run.payload["summary"]}


def _design_report_html(run) -> str:
    """The self-contained HTML report of ``nephrosim trial-design --report`` for a run's result."""
    from nephrosim.report import render, trial_design_report
    from nephrosim.trials import trial_from_dict
    from nephrosim.trials.search import SearchResult, search_from_dict

    spec = search_from_dict(run.scenario)
    result = SearchResult(run.payload["table"], run.payload["summary"], {})
    with _REPORT_LOCK:
        return render(trial_design_report(result, spec, trial_from_dict(spec.base), argv=REPORT_ARGV))


#: What each method's indices are called on the sensitivity page, main index first.
SENSITIVITY_INDICES = {"sobol": (("total", "total (ST)"), ("first", "first-order (S1)")),
                       "morris": (("mu_star_share", "μ* share"), ("mu_star", "μ*"), ("sigma", "σ")),
                       "delta": (("delta", "δ"),)}


def _sensitivity_table(run) -> dict:
    """The indices of a sensitivity run, most influential first, with their bootstrap intervals."""
    result = run.payload["sensitivity"]
    indices = SENSITIVITY_INDICES[result["method"]]
    rows = [{"name": name, "members": result.get("groups", {}).get(name, []),
             "indices": {key: result["parameters"][name][key] for key, _ in indices}}
            for name in run.payload["ranking"]]
    return {**{k: result[k] for k in ("method", "readout", "unit", "at_h", "arm", "evaluations", "conf_level",
                                      "warnings", "seed", "samples")},
            "groups": bool(result.get("groups")), "indices": [{"key": k, "label": label} for k, label in indices],
            "rows": rows}


#: The uncertainty band's settings in the builder: (form name, option, type, default).
BAND_FIELDS = (("_band_draws", "draws", int, worker.DEFAULT_BAND_DRAWS), ("_band_seed", "seed", int, 0))


def _band_form(form=None) -> dict:
    """The band's inputs as the builder shows them (typed values kept after a refusal)."""
    if form is None:
        return {"on": False, "draws": str(worker.DEFAULT_BAND_DRAWS), "seed": "0", "source": "shipped", "error": ""}
    return {"on": bool(form.get("_band")), "draws": str(form.get("_band_draws", "")),
            "seed": str(form.get("_band_seed", "")), "source": str(form.get("_band_source", "shipped")), "error": ""}


def _band_options(form) -> tuple[dict, str]:
    """The uncertainty band asked for in the builder (draws, seed, source), or the problem with
    it, naming the field (``uncertainty band draws``) and what is allowed."""
    options, problems = _number_options(form, BAND_FIELDS, "uncertainty band ")
    if problems:
        return {}, problems[0]
    options["source"] = str(form.get("_band_source", "shipped"))
    try:
        worker.check_band(options)
    except UserInputError as exc:
        return {}, str(exc)
    return options, ""


def _resume_plan(run, kept: int) -> str:
    """What *Resume* will do with an interrupted run: continue from its kept chunks, or compute
    it again from the start (the kinds that keep no partial result)."""
    from nephrosim.app.runs import RESUMABLE

    same = "The result is the same as an uninterrupted run's."
    if run.kind == "protocol" and kept:
        return (f"Resume starts it again with the same request and continues its study (optuna's journal, kept in "
                f"the data folder) from the trials finished before the interruption. {same}")
    if run.kind in RESUMABLE and kept:
        return (f"Resume starts it again with the same request and continues from the {kept} chunk(s) finished "
                f"before the interruption, kept in the data folder; only the missing ones are computed. {same}")
    if run.kind in RESUMABLE:
        return (f"Resume starts it again with the same request. No chunk of it had finished before the "
                f"interruption, so it computes from the start. {same}")
    return (f"Resume runs it again from the start with the same request: a {run.kind} run keeps no partial "
            f"result to continue from. {same}")


def _results_frame(payload):
    """The long table of a run; with an uncertainty band, each row also has the band's ``median``,
    ``lo`` and ``hi`` (2.5 and 97.5 %) and ``band_n_ok`` (the draws that simulated) at its arm,
    readout and time."""
    frame = payload["frame"]
    band = payload.get("band")
    if band is None:
        return frame
    keys = ["arm", "time_h", "readout"]
    extra = band[keys + ["median", "lo", "hi", "n_ok"]].rename(columns={"n_ok": "band_n_ok"})
    return frame.merge(extra, on=keys, how="left", validate="many_to_one")


def _ensemble_options(form) -> tuple[dict, list[str]]:
    """The ensemble's samples, cv and seed from the builder, or the problems with them."""
    return _number_options(form, ENSEMBLE_FIELDS, "ensemble ")


def _parameter_names() -> list[str]:
    from nephrosim.biology.parameters import ParameterTable

    return sorted(ParameterTable.default().names())


def _svg_data_uri(fig) -> str:
    """A matplotlib figure as an ``<img>`` source (SVG; an image cannot run scripts)."""
    import base64

    buf = io.BytesIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode()


def _evidence_context(query: dict) -> dict:
    """The studies of the evidence store matching ``query``; with a readout, their meta-analysis
    (random effects, REML) with forest and funnel plots, exclusions and assumptions."""
    from nephrosim.evidence import EvidenceError, EvidenceStore, meta_analyse
    from nephrosim.evidence.vocab import INJURIES, INJURY_GROUPS, PRODUCTS, READOUTS, SPECIES, SPECIES_GROUPS

    choices = {"readout": sorted(READOUTS), "injury": sorted({*INJURIES, *INJURY_GROUPS}),
               "species": [*SPECIES, *SPECIES_GROUPS], "product": [p for p in PRODUCTS if p not in ("none", "other")],
               "by": ["route", "species", "injury", "product", "cell_source", "donor"]}
    context = {"choices": choices, "problems": [], "studies": None, "meta": None}
    bad = [f"{k} {v!r}: use one of {', '.join(choices[k])}" for k, v in query.items() if v and v not in choices[k]]
    if bad:
        context["problems"] = bad
        return context
    filters = {k: query[k] or None for k in ("injury", "species", "product")}
    try:
        store = EvidenceStore()
        studies = store.studies(readout=query["readout"] or None, **filters)
        context["studies"] = studies.to_dict("records")
        if query["readout"]:
            res = meta_analyse(readout=query["readout"], store=store, by=query["by"] or None, **filters)
            from nephrosim.evidence.plots import forest_plot, funnel_plot

            context["meta"] = {"report": res.report(), "forest": _svg_data_uri(forest_plot(res)),
                               "funnel": _svg_data_uri(funnel_plot(res)) if res.result.k >= 3 else None}
    except EvidenceError as exc:  # too few studies, or a bad filter: the message names it and the fix
        context["problems"] = [str(exc)]
    return context


def _describe(data: dict) -> dict:
    """What was run, in a few words: subject, injury with its settings, each arm's treatments."""
    from nephrosim.scenarios.schema import scenario_from_dict

    sc = scenario_from_dict(data)
    def unit(name):  # a unit to print after a number (not a description such as "fraction, 0–1")
        u = forms.unit_of(name)
        return f" {u}" if u and not u.startswith(("fraction", "×")) else ""

    injury = ", ".join(f"{k} {forms.shown(v)}{unit(k)}"
                       for k, v in sc.injury.model_dump(exclude={"model"}).items() if v is not None)
    arms = []
    for arm in sc.arms:
        doses = [f"{t.product} {t.dose:g} {t.dose_unit} {t.route} at {', '.join(f'{d:g}' for d in t.dose_times_h())} h"
                 for t in arm.treatments]
        arms.append((arm.name, "; ".join(doses) or "untreated"))
    return {"subject": f"{sc.species}" + (f", {sc.body_weight_g:g} g" if sc.body_weight_g else ""),
            "injury": f"{sc.injury.model}" + (f" ({injury})" if injury else ""), "arms": arms,
            "times": f"{len(sc.times_h)} times, {sc.times_h[0]:g}–{sc.times_h[-1]:g} h",
            "parameter_set": sc.parameter_set, "overrides": dict(sc.parameters)}


def _plot_data(run) -> dict:
    """Per readout, one trace per arm (time in days past 4 days, as the figures do)."""
    from nephrosim.biology.readouts import available_readouts

    frame = run.payload["frame"]
    catalogue = available_readouts()
    days = float(frame["time_h"].max()) > 96
    untreated = {a["name"] for a in run.scenario["arms"] if not a.get("treatments")}
    bands = run.payload.get("bands")
    band = run.payload.get("band")  # the uncertainty band of a simulation or comparison
    literature = run.payload.get("literature") or {}
    scale = 24.0 if days else 1.0

    def finite(values):  # JSON has no NaN: a failed value is a gap
        return [v if math.isfinite(v) else None for v in values]

    panels = []
    for readout in run.scenario["readouts"]:
        rows = frame[frame["readout"] == readout]
        arms = []
        for arm in run.arms:
            if bands is not None:  # an ensemble: the median, with the central 95 % as a band
                sub = bands[(bands["readout"] == readout) & (bands["arm"] == arm)]
                y, extra = sub["median"], {"lower": finite(sub["lower"]), "upper": finite(sub["upper"])}
            else:
                sub = rows[rows["arm"] == arm]
                y, extra = sub["value"], {}
            if band is not None:
                b = band[(band["readout"] == readout) & (band["arm"] == arm)]
                extra["band"] = {"x": (b["time_h"].to_numpy() / scale).tolist(), "lo": finite(b["lo"].tolist()),
                                 "median": finite(b["median"].tolist()), "hi": finite(b["hi"].tolist())}
            t = sub["time_h"].to_numpy() / scale
            arms.append({"arm": arm, "x": t.tolist(), "y": finite(y.tolist()), "untreated": arm in untreated,
                         "status": run.payload["statuses"][arm][0], **extra})
        points = [{**p, "x": p["time_h"] / scale} for p in literature.get("points", []) if p["readout"] == readout]
        panels.append({"readout": readout, "unit": str(rows["unit"].iloc[0]) if len(rows) else "",
                       "description": catalogue[readout].description, "arms": arms, "points": points})
    from nephrosim.scenarios.schema import scenario_from_dict

    doses: dict[float, list[str]] = {}
    for arm in scenario_from_dict(run.scenario).arms:
        for t in arm.treatments:
            for at in t.dose_times_h():
                doses.setdefault(round(at / (24.0 if days else 1.0), 9), []).append(f"{arm.name} ({t.product})")
    return {"time_unit": "days" if days else "h", "panels": panels, "doses": doses,
            "band_legend": _band_legend(run.payload.get("band_info"))}


def _band_legend(info: dict | None) -> str:
    """The legend entry of an uncertainty band: what it is, what varies, how many draws (the
    number and its noun never split across lines)."""
    if not info:
        return ""
    nb = "\u00a0"
    if info["source"] == "shipped":
        lab = " with a new lab's deviation" if info["between_lab"] else ""
        varies = (f"{len(info['fitted'])}{nb}fitted parameters from the calibration's posterior{lab}, "
                  f"{len(info['assumed'])}{nb}assumed on their table ranges")
    else:
        varies = f"{len(info['assumed'])}{nb}parameters on their table ranges" + \
            (f", {len(info['donors'])}{nb}unknown donor(s)" if info["donors"] else "")
    return f"{info['level'] * 100:g}{nb}% band (2.5–97.5{nb}%) and median of {info['draws']}{nb}draws: {varies}"


def _compare_tables(run) -> dict:
    """The efficacy summary (units in the headers, per-time values only in the CSV) and the risks."""
    efficacy = run.payload["efficacy"]
    summary = [c for c in efficacy.columns if "@" not in c]
    risk = run.payload["risk"].copy()
    caveat = ""
    if "tumorigenicity_caveat" in risk:
        caveat = str(risk.pop("tumorigenicity_caveat").iloc[0])

    def rows(frame):
        return [[_cell(v) for v in r] for r in frame.itertuples(index=False)]

    return {"efficacy_columns": summary, "efficacy": rows(efficacy[summary]),
            "risk_columns": list(risk.columns), "risk": rows(risk), "caveat": caveat}


def _cell(v) -> str:
    if isinstance(v, float):
        if v != v:
            return "—"
        return "0" if abs(v) < 1e-12 else f"{v:.4g}"
    return str(v)


def check_address(host: str, port: int) -> None:
    """Refuse an address the server could not listen on, before anything starts."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UserInputError(f"--host {host!r}: not an address of this computer ({exc.strerror}); use 127.0.0.1 "
                             "(this computer only) or an address of one of its network interfaces") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise UserInputError(f"cannot listen on {host}:{port}: {exc.strerror} — choose another port with "
                                 "--port (another program, or another nephrosim app, uses this one)") from None


def serve(host: str = "127.0.0.1", port: int = 8765, workers: int = 2, data: str | Path | RunStore | None = None) -> None:
    """Serve the app with uvicorn until interrupted; runs are kept in the data folder ``data``
    (default :func:`nephrosim.app.store.default_folder`)."""
    import uvicorn

    store = data if isinstance(data, RunStore) else RunStore.open(data)
    uvicorn.run(create_app(max_workers=workers, data=store), host=host, port=port, log_level="warning")
