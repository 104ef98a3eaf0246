"""Generate src/nephrosim/biology/parameters_injury.csv (the injury-core parameter table).

Run from the repository root: ``python research/gen_parameters_injury.py``. The first
part lists every parameter with its provenance and reason; values changed during
hand calibration against the targets of tests/model/test_injury_*.py are kept in
``research/parameters_injury_overrides.json`` (name or name@species → value) so the
calibration history stays visible. The CSV is the artefact the package reads.

History only: since the provenance rules were tightened the CSV is edited directly (hand-tuned
rows became ``assumed`` with "hand-tuned, not formally fitted"); rerunning this script would
write the old ``calibrated`` label back, so it refuses to run.
"""
raise SystemExit("research/gen_parameters_injury.py is kept as history; edit src/nephrosim/biology/parameters_injury.csv")
import csv, sys
OUT = "src/nephrosim/biology/parameters_injury.csv"  # run from the repository root
COLS = ["name","species","value","unit","lower","upper","provenance","citation","pmid_or_doi","quote","reason","vary","description"]
rows = []
def P(name, value, unit, prov, reason, desc, species="all", lo=None, hi=None, cite="", doi="", quote="", vary=True):
    if lo is None and prov in ("assumed", "calibrated") and value > 0:
        lo, hi = value / 3, value * 3
    if unit == "dimensionless" and lo is not None and hi is not None and ("max" in name and "drive" not in name and value <= 1):
        hi = min(hi, 1.0)
    rows.append(dict(name=name, species=species, value=repr(float(value)) if not isinstance(value, str) else value,
                     unit=unit, lower="" if lo is None else f"{lo:.6g}", upper="" if hi is None else f"{hi:.6g}",
                     provenance=prov, citation=cite, pmid_or_doi=doi, quote=quote, reason=reason,
                     vary="true" if vary else "false", description=desc))

A = "assumed"; C = "calibrated"
TC = "shared/evidence/untreated_timecourses.csv"
# ---- scaling
P("allometric_reference_bw_kg", 0.025, "kg", A, "rate constants of the injury core are written for a 25 g mouse (body_weight_kg mouse row)", "Body weight at which injury rate constants are given", vary=False, lo=0.025, hi=0.025)
P("allometric_exponent", 0.25, "dimensionless", "source", "", "Exponent of body-weight scaling of biological times (rates scale as BW^-1/4)",
  cite="West GB, Brown JH 2005 J Exp Biol 208:1575-1592 'The origin of allometric scaling laws in biology from genomes to ecosystems'",
  doi="doi:10.1242/jeb.01589", quote="Similarly, time-scales (such as lifespans and growth rates) and sizes (such as bacterial genome lengths, tree heights and mitochondrial densities) scale with exponents that are typically simple powers of 1/4.", lo=0.2, hi=0.3)
# ---- oxidative stress
P("k_ros", 1.0, "1/h", A, "ROS are short-lived; a turnover of ~1 h (mouse) keeps ROS quasi-steady relative to tissue processes (hours-days)", "ROS turnover rate constant")
P("ros_w_inflammation", 0.5, "dimensionless", A, "neutrophil/M1 respiratory burst adds ROS; weight chosen so peak infiltrates raise ROS ~1.5-2x", "ROS production per unit neutrophils + M1")
P("ros_w_hypoxia", 1.0, "dimensionless", A, "hypoxia/reoxygenation raises mitochondrial ROS; complete hypoxia doubles production", "ROS production per unit hypoxia")
P("ros_gsh_share", 0.7, "dimensionless", A, "GSH-dependent scavenging is the major but not only antioxidant route (SOD, catalase lumped in the rest)", "Share of ROS scavenging that depends on GSH", lo=0.3, hi=0.95)
P("antioxidant_max_effect", 1.0, "dimensionless", A, "a full paracrine antioxidant effect doubles scavenging; no dose-response data", "Maximal rise in ROS scavenging by paracrine antioxidant action")
P("k_gsh", 0.02, "1/h", A, "GSH pools recover over 1-3 days after oxidative insults (MDA/GSH still abnormal days 4-30 after cisplatin, Ashour 2016 in BIOLOGY.md)", "GSH resynthesis rate constant")
P("gsh_oxidation_gain", 1.0, "dimensionless", A, "a doubling of ROS halves steady-state GSH", "GSH consumption per unit excess ROS")
P("k_mda", 0.05, "1/h", A, "MDA (lipid peroxidation products) integrates ROS over ~1 day", "MDA turnover rate constant")
# ---- tubules
P("k_tub_injury", 1.0, "1/h", C, "with iri_stress_max, sets the fraction of epithelium injured by the reperfusion hit; calibrated to mouse 18-min clamp SCr at 24 h (1.9-3.2 mg/dL, PMC6148315) and rat 45-min time course (peak 24 h, normal by 1 week)", "Healthy → injured per unit stress")
P("k_tub_death", 0.5, "1/h", C, "ratio to k_tub_injury sets necrosis vs sublethal injury; calibrated with k_tub_injury (same targets)", "Injured → dead per unit stress")
P("tub_death_half", 0.3, "dimensionless", A, "death needs strong stress: low-grade chronic stress (hypoxia, cytokines) injures but rarely kills (~50 % proximal tubular necrosis needs a nephrotoxic dose)", "Stress for half-maximal death per unit stress", lo=0.05, hi=1)
P("k_tub_recovery", 0.05, "1/h", A, "sublethal injury (brush-border loss, blebbing) is reversed within about a day", "Injured → healthy (sublethal recovery)")
P("k_tub_dediff", 0.05, "1/h", C, "calibrated to Ki67+ 50.5 % of outer-medullary epithelium at day 2 after mouse IRI (Humphreys 2008)", "Injured → dedifferentiated/proliferating")
P("k_tub_activation", 0.5, "1/h", C, "healthy neighbours of denuded membrane enter the cycle within a day; calibrated to Ki67 50.5 % at day 2 (Humphreys 2008)", "Healthy cells next to denuded membrane entering the cycle")
P("k_tub_prolif", 0.08, "1/h", C, "division time ~ 12-24 h; calibrated to Ki67 50.5 % at day 2 and cumulative BrdU 66.9 % after repair (Humphreys 2008)", "Proliferation into denuded membrane")
P("k_tub_redif", 0.02, "1/h", C, "rat PCNA index falls from 32 % (day 5) to 17 % (day 7) and 12 % (day 14); histology still abnormal at 1 week", "Redifferentiation once the membrane is covered")
P("k_tub_maladaptive", 0.01, "1/h", A, "a minority of proliferating cells arrest in G2/M; more with hypoxia/TGF-β", "Proliferating → G2/M-arrested")
P("maladaptive_base", 0.2, "dimensionless", A, "arrest also occurs without hypoxia (part of every repair)", "Maladaptive arrest without hypoxia or TGF-β")
P("maladaptive_w_tgfb", 1.0, "dimensionless", A, "TGF-β promotes G2/M arrest (profibrotic loop); unit weight", "Maladaptive arrest per unit TGF-β excess")
P("k_tub_m_resolve", 0.0005, "1/h", A, "G2/M-arrested/senescent cells persist for weeks-months (t1/2 ~ 8 weeks in mouse)", "Resolution of G2/M-arrested cells")
P("k_tub_slough", 0.1, "1/h", A, "dead cells detach into the lumen within hours (casts at 6 h, necrosis at 24 h after glycerol, rat)", "Sloughing of dead cells into the lumen")
P("k_cast_clear", 0.03, "1/h", A, "casts are washed out over 1-3 days as flow returns", "Wash-out of intratubular casts")
P("tub_w_ros", 0.2, "dimensionless", A, "excess ROS injure tubular cells (lipid peroxidation); weight chosen small relative to the direct insult", "Tubular stress per unit excess ROS")
P("tub_w_hypoxia", 0.3, "dimensionless", A, "chronic hypoxia from capillary loss injures tubules (rarefaction → hypoxia → more injury)", "Tubular stress per unit hypoxia")
P("tub_w_tnf", 0.05, "dimensionless", A, "TNF-class cytokines induce tubular apoptosis; small weight", "Tubular stress per unit TNF-class cytokine")
P("tub_w_microembolism", 1.0, "dimensionless", C, "set so that 1x10^6 renal-artery MSC worsen and 1x10^5 improve 24-h SCr in rat solitary-kidney IRI, the direction of PLoS One 2014 e92347 (SCr 3.71 with 1x10^5 vs 5.22 mg/dL control; 1x10^6 via renal artery worsened function); magnitude not fitted", "Tubular stress per unit MSC microembolism", lo=0, hi=3)
for n, v, d in (("hgf_max_survival", 0.5, "HGF-class"), ("igf1_max_survival", 0.3, "IGF-1"), ("ev_max_survival", 0.5, "EV RNA cargo")):
    P(n, v, "dimensionless", A, f"placeholder maximal protection by {d}; to be calibrated against treated-arm data (preclinical_msc.csv) by the therapy work", f"Maximal reduction of tubular injury/death by {d}", lo=0.0, hi=0.9)
P("hgf_max_prolif", 1.0, "dimensionless", A, "placeholder: full HGF effect doubles tubular proliferation; to be calibrated with treated arms", "Maximal rise in tubular proliferation by HGF", lo=0.0, hi=3.0)
P("ev_max_prolif", 1.0, "dimensionless", A, "placeholder: full EV-RNA effect doubles tubular proliferation (Bruno 2009); to be calibrated", "Maximal rise in tubular proliferation by EV RNA", lo=0.0, hi=3.0)
P("hgf_max_antimaladaptive", 0.5, "dimensionless", A, "placeholder: HGF halves maladaptive arrest at full effect", "Maximal reduction of maladaptive arrest by HGF", lo=0.0, hi=0.9)
# ---- capillaries
P("k_endo_injury", 0.5, "1/h", A, "endothelial injury develops within hours of reperfusion", "Endothelial injury rate per unit drive")
P("endo_w_ros", 0.1, "dimensionless", A, "ROS contribute to endothelial injury", "Endothelial drive per unit excess ROS")
P("endo_w_tnf", 0.1, "dimensionless", A, "TNF activates/injures endothelium", "Endothelial drive per unit TNF")
P("endo_w_neutrophils", 0.1, "dimensionless", A, "leukocyte plugging and activation injure peritubular capillaries", "Endothelial drive per unit neutrophils")
P("k_endo_repair", 0.005, "1/h", C, "rat 45-min warm ischaemia: RBF 4.0 mL/min/g at 24 h, 1.2 at 1 week, 3.4 at 4 weeks (untreated_timecourses); mouse inulin clearance not recovered at day 7 (Transplantation 2002, PMID:12085012)", "Endothelial repair rate constant")
P("k_ptc_loss", 0.01, "1/h", C, "calibrated to 30-50 % capillary loss 4-40 weeks after rat IRI (Basile 2001) and -40 % 8 weeks after severe, none after moderate mouse AKI (Kramann)", "Maximal capillary loss rate")
P("ptc_loss_half_injury", 0.6, "dimensionless", C, "threshold between moderate (no loss) and severe (−40 %) AKI, Kramann microangiography", "Endothelial injury giving half-maximal capillary loss", lo=0.3, hi=0.9)
P("ptc_loss_hill", 6.0, "dimensionless", A, "steep threshold: moderate AKI leaves capillary number unchanged", "Steepness of capillary loss", lo=2, hi=10)
P("k_ptc_regrowth", 0.0001, "1/h", A, "capillaries do not regrow well: loss persists to 40 weeks in rats (Basile 2001)", "Capillary regrowth rate at normal VEGF")
P("k_vegf", 0.05, "1/h", A, "tissue VEGF turns over within a day", "VEGF turnover rate constant")
P("vegf_hypoxia_gain", 0.5, "dimensionless", A, "hypoxia induces VEGF (HIF) in viable tubules", "Rise of tubular VEGF production per unit hypoxia")
P("endo_perfusion_loss", 0.7, "dimensionless", C, "endothelial dysfunction keeps GFR low for a week+ (mouse inulin clearance -75 % at 72 h, not recovered at day 7)", "Perfusion lost at complete endothelial injury", lo=0.2, hi=0.95)
P("endo_hypoxia_weight", 0.2, "dimensionless", A, "endothelial dysfunction (congestion, no-reflow) lowers tissue oxygen less than it lowers filtration; hypoxia comes mostly from rarefaction", "Tissue oxygen supply lost at complete endothelial injury", lo=0, hi=0.8)
P("vegf_max_protection", 0.5, "dimensionless", A, "placeholder: VEGF-knockdown MSC lose protection (Togel 2009); size to be calibrated", "Maximal reduction of endothelial injury by paracrine VEGF", lo=0, hi=0.9)
P("vegf_therapy_gain", 2.0, "dimensionless", A, "placeholder: full paracrine VEGF triples the regrowth signal", "Paracrine VEGF added to the regrowth signal", lo=0, hi=10)
# ---- inflammation
P("k_damp", 0.3, "1/h", A, "DAMPs (HMGB1, histones, ATP) are cleared within hours", "DAMP clearance rate constant")
P("damp_gain", 2.0, "dimensionless", A, "scales DAMPs to O(1) when a large fraction of epithelium is necrotic", "DAMPs per unit dead tubular cells")
P("k_tnf", 0.5, "1/h", A, "cytokine half-life ~1-2 h", "TNF turnover rate constant")
P("tnf_gain", 0.5, "dimensionless", A, "relative units", "TNF per unit DAMPs/M1")
P("tnf_w_neutrophils", 0.5, "dimensionless", A, "neutrophils make less TNF than macrophages", "TNF per unit neutrophils relative to M1")
P("il10_k_tnf", 0.5, "dimensionless", A, "IL-10 suppresses TNF production", "IL-10 level halving TNF production")
P("k_neut_recruit", 0.3, "1/h", C, "renal MPO peaks 6-9 h (rat) and total kidney neutrophils at 24 h (mouse) after IRI (untreated_timecourses)", "Neutrophil recruitment per unit DAMPs + TNF")
P("k_neut_clear", 0.1, "1/h", C, "tissue neutrophils live hours; neutrophils precede macrophages (untreated_timecourses)", "Neutrophil clearance")
P("k_mac_recruit", 0.1, "1/h", C, "CD11b+ macrophages peak 16-24 h after a 22-min mouse clamp (Yu 2008 Korean J Intern Med 23:64)", "Macrophage recruitment per unit DAMPs + TNF")
P("k_polarize", 0.01, "1/h", C, "M1 dominate the first 48 h, M2 later (Lee et al., distinct macrophage phenotypes)", "M1 → M2 switch rate constant")
P("polarize_base", 0.5, "dimensionless", A, "switch happens slowly even without IL-10 (efferocytosis)", "M1 → M2 switch without IL-10")
P("k_m1_clear", 0.02, "1/h", A, "M1 half-life ~1.5 days", "M1 death/emigration")
P("k_m2_clear", 0.008, "1/h", A, "M2 persist through repair (depletion at day 3-5 slows repair, Lee et al.)", "M2 death/emigration")
P("k_il10", 0.2, "1/h", A, "cytokine turnover of hours", "IL-10 turnover rate constant")
P("il10_gain", 2.0, "dimensionless", A, "relative units; makes M1→M2 switch self-accelerating", "IL-10 per unit M2")
P("ai_max_suppression", 0.6, "dimensionless", A, "placeholder: IL-10/TSG-6/PGE2 reduce recruitment and TNF by up to 60 %; to be calibrated with treated arms", "Maximal reduction of recruitment/TNF", lo=0, hi=0.9)
P("ai_max_polarization", 2.0, "dimensionless", A, "placeholder: anti-inflammatory paracrine factors accelerate the M1→M2 switch", "M1 → M2 switch added at full effect", lo=0, hi=10)
# ---- fibrosis
P("k_tgf", 0.1, "1/h", A, "tissue TGF-β signal turns over within ~7 h", "TGF-β turnover rate constant")
P("tgf_w_maladaptive", 2.0, "dimensionless", A, "G2/M-arrested tubular cells are the main profibrotic source (maladaptive repair)", "TGF-β per unit arrested tubular cells")
P("tgf_w_m2", 0.1, "dimensionless", A, "M2 macrophages secrete TGF-β during repair", "TGF-β per unit M2")
P("tgf_w_hypoxia", 1.0, "dimensionless", A, "hypoxia induces TGF-β (rarefaction → fibrosis)", "TGF-β per unit hypoxia")
P("tgf_w_hyperfiltration", 0.5, "dimensionless", C, "progressive fibrosis of 5/6-nephrectomy remnants (untreated_timecourses)", "TGF-β per unit excess hyperfiltration")
P("hgf_max_antitgf", 0.5, "dimensionless", A, "placeholder: HGF antagonises TGF-β; to be calibrated with treated arms", "Maximal reduction of TGF-β production by HGF", lo=0, hi=0.9)
P("k_myo_act", 0.01, "1/h", C, "UUO fibrosis rises over 7-14 days (untreated_timecourses)", "Maximal myofibroblast activation by TGF-β")
P("myo_tgf_half", 0.5, "dimensionless", A, "relative units", "TGF-β excess for half-maximal activation")
P("k_myo_auto", 0.006, "1/h", A, "autocrine loop strong enough for a persistent ('cold') fibrotic state above a threshold (Adler 2020 circuit)", "Maximal autocrine self-maintenance")
P("myo_auto_half", 0.3, "dimensionless", A, "sets the tipping threshold (~5 % of capacity) and the persistent level (~60 %)", "Myofibroblast level for half-maximal autocrine loop", lo=0.1, hi=0.6)
P("k_myo_clear", 0.003, "1/h", A, "myofibroblasts resolve over ~10 days when signals stop (healing)", "Myofibroblast deactivation/apoptosis")
P("k_col_dep", 0.004, "1/h", A, "collagen accumulates over weeks", "Collagen deposition per unit myofibroblasts")
P("k_col_deg", 0.0007, "1/h", A, "scar maturation/degradation takes months (Adler 2020)", "Collagen degradation")
P("fibrosis_area_baseline_pct", 3.0, "%", A, "normal interstitium a few % of cortex (rabbit sham 2.8 ± 0.8 % interstitial volume; rodent value not found)", "Fibrosis area of a normal kidney", lo=1, hi=6)
P("fibrosis_area_max_pct", 50.0, "%", A, "near the rabbit UUO day-16 interstitial volume 43.3 ± 6.1 % (species out of scope)", "Fibrosis area at maximal fibrosis", lo=30, hi=70)
# ---- nephrons
P("nephron_mass_initial_l", 1.0, "dimensionless", A, "intact kidney; insults (nephrectomy) override", "Nephron mass of the left kidney at time 0", vary=False, lo=0, hi=1)
P("nephron_mass_initial_r", 1.0, "dimensionless", A, "intact kidney; insults (nephrectomy) override", "Nephron mass of the right kidney at time 0", vary=False, lo=0, hi=1)
P("hyperfiltration_exponent", 0.585, "dimensionless", "derived", "log(1.5)/log(2): remaining-kidney GFR +50 % after uninephrectomy (rat, ExpPhysiol 2007 doi:10.1113/expphysiol.2006.034751: 'increased maximally (by approximately 50%) within 8 days'); predicts +185 % after 5/6 Nx vs ~300 % reported", "γ: single-nephron GFR ∝ (functional mass)^−γ", lo=0.4, hi=1.0)
P("k_hyperfiltration_adapt", 0.02, "1/h", C, "rat maximal adaptation within 8 days (uninephrectomy) to 16 days (5/6 Nx) (ExpPhysiol 2007)", "Rate of single-nephron adaptation")
P("k_neph_hyperfiltration", 0.0001, "1/h", C, "progressive decline of 5/6-Nx remnant function (plasma creatinine up at 4, 8, 12 weeks, Faraj & Morley; untreated_timecourses)", "Nephron loss per squared excess hyperfiltration")
P("k_neph_fibrosis", 0.0005, "1/h", A, "tubular atrophy in fibrotic cortex; fibrosis lowers GFR over weeks", "Nephron loss per unit collagen")
P("k_neph_glomerular", 0.002, "1/h", A, "glomerulosclerosis after podocyte depletion develops over weeks", "Nephron loss per unit glomerular-injury input")
P("tgf_feedback_max", 0.6, "dimensionless", C, "loss of proximal reabsorption lowers GFR via tubuloglomerular feedback; with endothelial injury keeps GFR low while SCr recovers (mouse, PMID:12085012)", "Maximal GFR fall by tubuloglomerular feedback", lo=0, hi=0.9)
P("backleak_max", 0.5, "dimensionless", A, "filtrate leaks back through denuded epithelium", "Back-leak at complete denudation", lo=0, hi=0.9)
P("cast_obstruction_half", 0.1, "dimensionless", A, "a modest cast load obstructs tubules", "Casts giving half-maximal obstruction")
# ---- outcomes
P("k_kim1", 0.1, "1/h", A, "urinary KIM-1 follows tubular injury within hours-days and falls after the acute phase (untreated_timecourses)", "KIM-1 turnover")
P("kim1_gain", 20.0, "dimensionless", A, "KIM-1 rises tens-fold after AKI (relative units)", "KIM-1 rise per unit injured epithelium")
P("k_ngal", 0.1, "1/h", A, "NGAL responds within hours", "NGAL turnover")
P("ngal_gain_injury", 20.0, "dimensionless", A, "NGAL rises tens-fold after AKI", "NGAL rise per unit injured/dead epithelium")
P("ngal_gain_inflammation", 2.0, "dimensionless", A, "NGAL is induced by inflammation (sepsis)", "NGAL rise per unit TNF")
P("ngal_gain_chronic", 10.0, "dimensionless", A, "NGAL keeps rising through the AKI→CKD transition (untreated_timecourses)", "NGAL rise per unit arrested epithelium + collagen")
P("k_uremic_hazard", 0.002, "1/h", C, "rat complete bilateral ischaemia: 30 min survived, 60 min usually survived, 90 min 73 % mortality, 120 min 100 % with deaths on days 2-6 (J Clin Invest 1947, doi:10.1172/JCI101899)", "Death hazard per squared BUN excess")
P("uremic_threshold", 4.0, "dimensionless", A, "uraemic death needs BUN several-fold above normal", "BUN / normal BUN above which uraemia kills", lo=2, hi=8)
# ---- insults: IRI
P("iri_clamp_min", 30.0, "min", A, "default only; scenarios set the clamp time", "Clamp time", vary=False, lo=0, hi=240)
P("iri_temperature_c", 37.0, "degC", A, "default only; scenarios set the temperature", "Body temperature during the clamp", vary=False, lo=25, hi=42)
P("iri_left", 1.0, "dimensionless", A, "default only; set by the scenario", "1 if the left kidney is clamped", vary=False, lo=0, hi=1)
P("iri_right", 1.0, "dimensionless", A, "default only; set by the scenario", "1 if the right kidney is clamped", vary=False, lo=0, hi=1)
P("iri_q10", 4.5, "dimensionless", C, "rat 40-min clamp: 24-h SCr 2.2 ± 0.1 at 37 °C vs 0.62 ± 0.07 mg/dL at 32-33 °C (Zager 1989, untreated_timecourses); Q10 chosen so 40 min at 32.5 °C ≈ 20 min at 37 °C", "Q10 of ischaemic injury", lo=2, hi=8)
P("iri_t50_min", 22.0, "min", C, "mouse: 18-min bilateral clamp gives SCr 1.9-3.2 mg/dL at 24 h (PMC6148315); unilateral ≥35 min = point of no return (Holderied 2020)", "Effective clamp time for half-maximal severity", species="mouse", lo=10, hi=40)
P("iri_t50_min", 40.0, "min", C, "rat: 30 min readily survived, 45 min bilateral peaks at 24 h and recovers by 1 week, 60 min 35 % 7-day survival (untreated_timecourses)", "Effective clamp time for half-maximal severity", species="rat", lo=25, hi=60)
P("iri_t50_min", 40.0, "min", A, "no human clamp data; rat value", "Effective clamp time for half-maximal severity", species="human", lo=20, hi=90)
P("iri_hill", 4.0, "dimensionless", A, "severity rises steeply with clamp time (untreated_timecourses: 10 min no BUN change, 15-25 min recover, ≥35 min persistent)", "Steepness of severity vs clamp time", lo=2, hi=8)
P("iri_reperfusion_tau_h", 2.0, "h", A, "the reperfusion hit (ROS burst, calcium overload) lasts hours (mouse)", "Decay time of the reperfusion hit")
P("iri_stress_max", 3.0, "dimensionless", C, "with k_tub_injury/k_tub_death, calibrated to mouse 18-min 24-h SCr and rat 45-min time course", "Tubular stress at full severity")
P("iri_ros_max", 5.0, "dimensionless", A, "reperfusion ROS burst several-fold over basal", "Extra ROS production at full severity")
P("iri_endothelial_max", 2.0, "dimensionless", C, "endothelial injury after severe but not moderate IRI reaches the capillary-loss threshold (Kramann, Basile 2001)", "Endothelial drive at full severity")
# ---- cisplatin
P("cis_dose_mg_per_kg", 5.0, "mg/kg", A, "default only; scenarios set the dose", "Cisplatin dose", vary=False, lo=0, hi=50)
P("cis_v1_l_per_kg", 0.3, "L/kg", A, "central volume near extracellular water; rat PK values of Fukushima 2015 not in the abstract", "Central volume")
P("cis_k10", 3.0, "1/h", A, "unbound cisplatin is eliminated with a half-life of tens of minutes (rat scaled by rate_scale: ~25 min); values of Fukushima 2015 not read", "Elimination rate constant (mouse)")
P("cis_k12", 1.0, "1/h", A, "2-compartment PK (Fukushima 2015); distribution within an hour", "Central → peripheral (mouse)")
P("cis_k21", 0.3, "1/h", A, "slow redistribution", "Peripheral → central (mouse)")
P("cis_threshold_mg_l", 1.0, "mg/L", A, "toxic threshold concentration (Fukushima 2015: Cmax and time above a toxic concentration); value not in the abstract", "Toxic plasma concentration threshold", lo=0.1, hi=5)
P("cis_k_uptake", 0.2, "L/mg/h", C, "scales exposure; calibrated with cis_stress_gain to rat creatinine rising with dose over 1-7.5 mg/kg, 6.5 mg/kg i.v.: BUN 4x, SCr 3x, GFR -84 % at day 4 (untreated_timecourses)", "Tubular toxic uptake per mg/L above threshold")
P("cis_k_kidney_out", 0.02, "1/h", A, "platinum is retained in tubules for days", "Loss of retained tubular exposure")
P("cis_k_transit", 0.06, "1/h", C, "creatinine peaks on days 3-5 with no early rise (rat 4 mg/kg peak day 4, Mizushima 1987; histological damage peaks 75-100 h)", "Transit rate of the toxicodynamic signal")
P("cis_stress_gain", 0.3, "dimensionless", C, "see cis_k_uptake", "Tubular stress per unit signal", species="rat")
P("cis_stress_gain", 0.15, "dimensionless", A, "rat value; human cisplatin nephrotoxicity not calibrated", "Tubular stress per unit signal", species="human")
P("cis_stress_gain", 0.05, "dimensionless", C, "mouse C57BL/6 day 4: 7.5 mg/kg SCr 1.2x (ns), 10 mg/kg 3.1x, 12.5 mg/kg 3.6x (Perse 2018 review Table 3, doi:10.1155/2018/1462802); mice need about twice the rat dose", "Tubular stress per unit signal", species="mouse")
P("cis_ros_gain", 0.5, "dimensionless", A, "cisplatin raises MDA and lowers GSH (Ashour 2016, BIOLOGY.md)", "Extra ROS per unit signal")
# ---- glycerol
P("gly_dose_ml_per_kg", 8.0, "mL/kg", A, "default only", "50 % glycerol dose", vary=False, lo=0, hi=20)
P("gly_k_release", 0.3, "1/h", A, "myoglobin release from injured muscle over hours", "Myoglobin release (mouse)")
P("gly_k_heme_clear", 0.1, "1/h", A, "haem pigment cleared over ~1 day", "Haem clearance (mouse)")
P("gly_heme_half", 1.5, "mL/kg", C, "rat: 3.75 mL/kg alone causes no ARF; mortality rises above 7.5 mL/kg (Zurovsky 1992, untreated_timecourses)", "Haem (dose-equivalent) for half-maximal toxicity")
P("gly_hill", 3.0, "dimensionless", A, "steep dose threshold", "Steepness of haem toxicity", lo=1, hi=6)
P("gly_stress_max", 0.5, "dimensionless", C, "rat: casts at 6 h, necrosis at 24 h, regeneration from 48 h, BUN peak 72 h (untreated_timecourses)", "Tubular stress at full toxicity")
P("gly_cast_max", 0.3, "dimensionless", A, "haem casts form early (6 h)", "Haem cast formation at full toxicity")
P("gly_ros_max", 3.0, "dimensionless", A, "haem iron drives lipid peroxidation", "Extra ROS at full toxicity")
P("gly_perfusion_drop", 0.4, "dimensionless", A, "renal vasoconstriction and hypovolaemia in rhabdomyolysis", "Fall in perfusion at full toxicity", lo=0, hi=0.8)
# ---- sepsis / LPS
P("clp_severity", 1.0, "dimensionless", A, "default only", "CLP severity", vary=False, lo=0, hi=3)
P("clp_drive_max", 2.0, "dimensionless", A, "relative units", "Scale of the septic drive")
P("clp_tau_on_h", 6.0, "h", A, "mouse CLP: BUN up by 6 h, creatinine by 24 h (untreated_timecourses)", "Rise time of the septic drive (mouse)")
P("clp_tau_off_h", 48.0, "h", A, "septic drive resolves over days in survivors (3 of 8 still AKI at 48 h)", "Resolution time (mouse)")
P("lps_dose_mg_per_kg", 5.0, "mg/kg", A, "default only", "LPS dose", vary=False, lo=0, hi=100)
P("lps_drive_max", 6.0, "dimensionless", A, "relative units", "Scale of the endotoxin drive")
P("lps_d50_mg_per_kg", 10.0, "mg/kg", A, "2 mg/kg gives no AKI in normal mice (Carl 2016); 10 mg/kg raises albuminuria 10x by 24 h", "Dose for half-maximal drive")
P("lps_tau_on_h", 1.0, "h", A, "cytokine storm within 1-2 h of endotoxin", "Rise time (mouse)")
P("lps_tau_off_h", 6.0, "h", A, "endotoxin response subsides within a day", "Decay time (mouse)")
P("sepsis_perfusion_drop", 0.3, "dimensionless", A, "septic microcirculatory dysfunction lowers effective filtration despite RBF doubling at 6 h (untreated_timecourses)", "Fall in effective perfusion per unit drive")
P("sepsis_endothelial_gain", 0.1, "dimensionless", A, "septic endothelial activation", "Endothelial drive per unit systemic drive")
P("sepsis_hazard_gain", 0.0016, "1/h", C, "mouse medium-severity CLP: 7-day survival 48 % (Drechsler 2015, doi:10.1186/s40635-015-0048-z)", "Death hazard per squared systemic drive (mouse)")
# ---- UUO
P("uuo_gfr_fall", 0.69, "dimensionless", "derived", "1 − 34.4/111.9: rat single-nephron GFR 24 h after unilateral ureteral ligation (Dal Canton, untreated_timecourses: 'The fall in SNGFR (from 111.9 +/- [SD] 23.9 to 34.4 +/- 23.1 nl/min/kg body wt)')", "Fractional fall in filtration of the obstructed kidney", lo=0.4, hi=0.95)
P("uuo_stress", 0.1, "dimensionless", C, "mouse UUO 7 days: proximal tubular area −55 % (Chaabane 2013, doi:10.1152/ajprenal.00425.2012); model: differentiated (healthy + injured) epithelium 38 % of normal at day 7", "Tubular stress in the obstructed kidney")
P("uuo_fibrogenic", 1.0, "dimensionless", C, "fibrosis rises over 7-14 days of UUO; interstitial widening significant by day 7 (rat, untreated_timecourses)", "Direct TGF-β drive of obstruction")
P("uuo_perfusion_drop", 0.3, "dimensionless", A, "renal blood flow of the obstructed kidney falls after the first hours", "Fall in perfusion of the obstructed kidney", lo=0, hi=0.8)
# ---- adriamycin
P("adr_dose_mg_per_kg", 10.0, "mg/kg", A, "default only", "Adriamycin dose", vary=False, lo=0, hi=30)
P("adr_d50_mg_per_kg", 8.0, "mg/kg", A, "nephropathy needs ~10 mg/kg in susceptible mice (BALB/c) and 5-7.5 mg/kg in rats; single value", "Dose for half-maximal podocyte toxicity")
P("adr_hill", 3.0, "dimensionless", A, "steep dose response", "Steepness", lo=1, hi=6)
P("adr_k_injury", 0.02, "1/h", A, "proteinuria develops over ~1 week", "Podocyte injury rate (mouse)")
P("adr_tau_h", 120.0, "h", A, "adriamycin is retained in tissue for days", "Decay time of toxicity (mouse)")
P("adr_k_repair", 0.001, "1/h", A, "podocytes barely regenerate", "Podocyte recovery (mouse)")
P("adr_fibrogenic_gain", 0.5, "dimensionless", A, "proteinuria induces tubulointerstitial TGF-β", "TGF-β drive per unit podocyte injury")
P("adr_tubular_gain", 0.05, "dimensionless", A, "proteinuric tubular stress", "Tubular stress per unit podocyte injury")
# ---- STZ
P("stz_dose_mg_per_kg", 150.0, "mg/kg", A, "default only", "STZ dose", vary=False, lo=0, hi=300)
P("stz_d50_mg_per_kg", 100.0, "mg/kg", A, "single-dose mouse protocols use 150-200 mg/kg", "Dose giving diabetes", species="mouse")
P("stz_d50_mg_per_kg", 40.0, "mg/kg", A, "single-dose rat protocols use 50-65 mg/kg", "Dose giving diabetes", species="rat")
P("stz_d50_mg_per_kg", 40.0, "mg/kg", A, "not used in humans; rat value", "Dose giving diabetes", species="human")
P("stz_hill", 6.0, "dimensionless", A, "sharp β-cell toxicity threshold", "Steepness", lo=2, hi=10)
P("stz_onset_tau_h", 48.0, "h", A, "hyperglycaemia within 2-3 days", "Onset time (mouse)")
P("stz_hyperfiltration_max", 0.3, "dimensionless", A, "early diabetic hyperfiltration +20-40 %", "Extra single-nephron GFR in diabetes", lo=0, hi=1)
P("stz_fibrogenic_gain", 0.05, "dimensionless", A, "slow diabetic tubulointerstitial fibrosis", "TGF-β drive of hyperglycaemia")
P("stz_ros_gain", 0.5, "dimensionless", A, "hyperglycaemic oxidative stress", "Extra ROS of hyperglycaemia")
P("stz_glomerular_gain", 0.02, "dimensionless", A, "slow diabetic glomerulosclerosis", "Glomerular injury input of hyperglycaemia")
# ---- cardiac surgery
P("cpb_bypass_min", 90.0, "min", A, "default only", "Bypass time", vary=False, lo=0, hi=600)
P("cpb_t50_min", 150.0, "min", C, "cardiac-surgery AKI 22.3 % overall, mostly KDIGO 1; isolated CABG: 12.7 % peak on POD 3 and recover by day 7 (untreated_timecourses); typical bypass gives mild injury", "Bypass time for half-maximal renal hit", lo=60, hi=300)
P("cpb_hill", 3.0, "dimensionless", A, "AKI risk rises with bypass time", "Steepness", lo=1, hi=6)
P("cpb_tau_h", 4.0, "h", A, "post-bypass hypoperfusion/inflammation over hours (mouse-referenced: ~29 h in a human)", "Decay time of the post-bypass hit")
P("cpb_stress_max", 1.0, "dimensionless", C, "new AKI peaks 36-48 h; SCr peaks POD 3 and recovers by day 7 in the transient class", "Tubular stress at full severity")
P("cpb_ros_max", 2.0, "dimensionless", A, "haemolysis and reperfusion ROS", "Extra ROS at full severity")
P("cpb_endothelial_max", 0.5, "dimensionless", A, "bypass endothelial activation", "Endothelial drive at full severity")
P("cpb_inflammation_max", 1.0, "dimensionless", A, "systemic inflammatory response to bypass", "Systemic inflammatory drive at full severity")

import json, os
OVR = json.load(open("research/parameters_injury_overrides.json")) if os.path.exists("research/parameters_injury_overrides.json") else {}
for r in rows:
    key = r["name"] + "@" + r["species"]
    v = OVR.get(key, OVR.get(r["name"]) if r["species"] == "all" else OVR.get(key))
    if v is not None and float(v) != float(r["value"]):
        if r["provenance"] == "assumed":
            r["provenance"] = "calibrated"
        r["reason"] += (f"; hand-calibrated from an initial guess of {float(r['value']):g} against the targets "
                        "in tests/model/test_injury_*.py (stability of the inflammation/ROS/hypoxia loops, "
                        "IRI severity classes, peak timing)")
    if v is not None:
        r["value"] = repr(float(v))
        if r["lower"] and float(r["lower"]) > v: r["lower"] = f"{v/3:.6g}"
        if r["upper"] and float(r["upper"]) < v: r["upper"] = f"{v*3:.6g}"
with open(OUT, "w", newline="", encoding="utf-8") as fh:
    w = csv.DictWriter(fh, fieldnames=COLS)
    w.writeheader()
    for r in rows:
        w.writerow(r)
print(len(rows), "rows")
