"""One vocabulary: the evidence's terms map onto the simulator's without hand matching."""

from nephrosim import vocabulary as V
from nephrosim.biology.readouts import available_readouts
from nephrosim.evidence.vocab import INJURIES, PRODUCTS, READOUTS
from nephrosim.scenarios.injuries import INJURY_MODELS


def test_every_evidence_term_is_mapped_explicitly():
    assert set(V.INJURY_MODEL_FOR_EVIDENCE) == set(INJURIES)
    assert set(V.PRODUCT_FOR_EVIDENCE) == set(PRODUCTS)
    assert set(V.READOUT_FOR_EVIDENCE) <= set(READOUTS)


def test_every_simulated_injury_model_has_its_evidence_term():
    for model in INJURY_MODELS:
        if model in V.SIMULATION_ONLY_INJURIES:
            assert V.evidence_injury(model) is None
            continue
        term = V.evidence_injury(model)
        assert term in INJURIES, model
        assert V.model_injury(term) == model


def test_mapped_readouts_exist_in_the_model_with_the_stated_comparability():
    model = available_readouts()
    for ev, match in V.READOUT_FOR_EVIDENCE.items():
        if match is None:
            continue
        assert match.model in model, (ev, match)
        unit = model[match.model].unit
        if match.comparability == "absolute":
            # an absolute match is in physical units the evidence also uses
            assert unit in ("mg/dL", "%", "mL/min"), (ev, unit)
        else:
            assert unit in ("fold", "relative", "score 0-4", "%"), (ev, unit)


def test_products_of_scenarios_and_evidence_meet():
    from nephrosim.scenarios.products import EV, MSC, ConditionedMedium

    scenario_products = {c.model_fields["product"].default for c in (MSC, ConditionedMedium, EV)}
    assert {V.model_product(p) for p in PRODUCTS} - {None} == scenario_products
