//! The income-effect estimators against an independent reference: the
//! panel and numbers in tests/fixtures/effects/ were made once, offline,
//! by make_reference.py with statsmodels (TWFE, event study) and the
//! `differences` package (Callaway & Sant'Anna).

use std::collections::BTreeMap;

use zhenxing::analysis::effects::estimators::{
    callaway_santanna, event_study, twfe, Control, Obs, Panel,
};

use super::util::repo;

fn fixture() -> (Panel, serde_json::Value) {
    let dir = repo().join("tests/fixtures/effects");
    let mut rd = csv::Reader::from_path(dir.join("panel.csv")).unwrap();
    let mut units: BTreeMap<String, usize> = BTreeMap::new();
    let mut clusters: BTreeMap<String, usize> = BTreeMap::new();
    let mut cohort: Vec<Option<i32>> = Vec::new();
    let mut obs = Vec::new();
    for rec in rd.records() {
        let r = rec.unwrap();
        let n = units.len();
        let u = *units.entry(r[0].to_string()).or_insert(n);
        if u == cohort.len() {
            let c: i32 = r[4].parse().unwrap();
            cohort.push((c > 0).then_some(c));
        }
        let nc = clusters.len();
        let c = *clusters.entry(r[1].to_string()).or_insert(nc);
        obs.push(Obs {
            unit: u,
            cluster: c,
            year: r[2].parse().unwrap(),
            y: r[3].parse().unwrap(),
        });
    }
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap())
            .unwrap();
    (
        Panel {
            obs,
            cohort,
            n_clusters: clusters.len(),
        },
        reference,
    )
}

fn num(v: &serde_json::Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or_else(|| panic!("{k} in {v}"))
}

/// Equal to 1e-7 relative (both sides are exact formulas in f64).
fn close(ours: f64, theirs: f64, what: &str) {
    let tol = 1e-7 * theirs.abs().max(1.0);
    assert!(
        (ours - theirs).abs() <= tol,
        "{what}: zhenxing {ours} vs reference {theirs}"
    );
}

#[test]
fn twfe_matches_statsmodels_with_household_and_year_dummies() {
    let (p, r) = fixture();
    let t = twfe(&p).unwrap();
    close(t.est, num(&r["twfe"], "estimate"), "TWFE estimate");
    close(t.se, num(&r["twfe"], "se"), "TWFE clustered se");
    assert_eq!(t.n_obs, 3360);
    assert_eq!(t.n_units, 480);
    assert_eq!(t.n_clusters, 40);
}

#[test]
fn event_study_matches_statsmodels() {
    let (p, r) = fixture();
    let es = event_study(&p).unwrap();
    let refs = r["event_study"].as_array().unwrap();
    assert_eq!(es.len(), refs.len());
    for ((e, est), want) in es.iter().zip(refs) {
        assert_eq!(i64::from(*e), want["event_time"].as_i64().unwrap());
        close(
            est.est,
            num(want, "estimate"),
            &format!("event {e} estimate"),
        );
        close(est.se, num(want, "se"), &format!("event {e} se"));
    }
}

/// The package's analytic standard errors are per household, so the panel
/// is given one cluster per household here.
#[test]
fn callaway_santanna_matches_the_differences_package() {
    let (mut p, r) = fixture();
    for o in &mut p.obs {
        o.cluster = o.unit;
    }
    p.n_clusters = p.cohort.len();
    let cs = callaway_santanna(&p, Control::NeverTreated).unwrap();
    let cells: Vec<_> = cs.cells.iter().filter(|c| c.result.is_ok()).collect();
    let refs = r["cs_att_gt"].as_array().unwrap();
    assert_eq!(cells.len(), refs.len());
    for want in refs {
        let (g, t) = (
            want["cohort"].as_i64().unwrap() as i32,
            want["year"].as_i64().unwrap() as i32,
        );
        let c = cells
            .iter()
            .find(|c| c.group == g && c.time == t)
            .unwrap_or_else(|| panic!("no cell ({g},{t})"));
        let e = c.result.as_ref().unwrap();
        close(e.est, num(want, "estimate"), &format!("ATT({g},{t})"));
        close(e.se, num(want, "se"), &format!("ATT({g},{t}) se"));
    }
    let simple = cs.simple.unwrap().unwrap();
    close(simple.est, num(&r["cs_simple"][0], "estimate"), "simple");
    close(simple.se, num(&r["cs_simple"][0], "se"), "simple se");
    for want in r["cs_cohort"].as_array().unwrap() {
        let g = want["cohort"].as_i64().unwrap() as i32;
        let (_, e) = cs.by_group.iter().find(|x| x.0 == g).unwrap();
        close(e.est, num(want, "estimate"), &format!("group {g}"));
        close(e.se, num(want, "se"), &format!("group {g} se"));
    }
    for want in r["cs_event"].as_array().unwrap() {
        let k = want["relative_period"].as_i64().unwrap() as i32;
        let (_, e) = cs.by_event.iter().find(|x| x.0 == k).unwrap();
        close(e.est, num(want, "estimate"), &format!("event {k}"));
        close(e.se, num(want, "se"), &format!("event {k} se"));
    }
    // the dynamic aggregation's overall effect: mean over e ≥ 0
    let overall = cs.event_overall.unwrap();
    close(
        overall.est,
        num(&r["cs_event_overall"][0], "estimate"),
        "event overall",
    );
    close(
        overall.se,
        num(&r["cs_event_overall"][0], "se"),
        "event overall se",
    );
    for want in r["cs_time"].as_array().unwrap() {
        let t = want["time"].as_i64().unwrap() as i32;
        let (_, e) = cs.by_calendar.iter().find(|x| x.0 == t).unwrap();
        close(e.est, num(want, "estimate"), &format!("year {t}"));
        close(e.se, num(want, "se"), &format!("year {t} se"));
    }
}

/// Not-yet-treated comparison households (later cohorts before they join),
/// against the package with the same setting.
#[test]
fn callaway_santanna_not_yet_treated_matches_the_differences_package() {
    let (mut p, r) = fixture();
    for o in &mut p.obs {
        o.cluster = o.unit;
    }
    p.n_clusters = p.cohort.len();
    let cs = callaway_santanna(&p, Control::NotYetTreated).unwrap();
    let simple = cs.simple.unwrap().unwrap();
    close(
        simple.est,
        num(&r["cs_nyt_simple"][0], "estimate"),
        "simple",
    );
    close(simple.se, num(&r["cs_nyt_simple"][0], "se"), "simple se");
    let events = r["cs_nyt_event"].as_array().unwrap();
    assert_eq!(cs.by_event.len(), events.len());
    for want in events {
        let k = want["relative_period"].as_i64().unwrap() as i32;
        let (_, e) = cs.by_event.iter().find(|x| x.0 == k).unwrap();
        close(e.est, num(want, "estimate"), &format!("event {k}"));
        close(e.se, num(want, "se"), &format!("event {k} se"));
    }
    let overall = cs.event_overall.unwrap();
    let want = &r["cs_nyt_event_overall"][0];
    close(overall.est, num(want, "estimate"), "event overall");
    close(overall.se, num(want, "se"), "event overall se");
}

/// Clustering by village sums the same influence function within villages:
/// the estimates do not change, the standard errors do.
#[test]
fn callaway_santanna_clustered_by_village_keeps_the_estimates() {
    let (p, r) = fixture();
    let cs = callaway_santanna(&p, Control::NeverTreated).unwrap();
    // every cell against the package's influence function summed within villages
    let refs = r["cs_att_gt_village"].as_array().unwrap();
    let ok: Vec<_> = cs.cells.iter().filter(|c| c.result.is_ok()).collect();
    assert_eq!(ok.len(), refs.len());
    for want in refs {
        let (g, t) = (
            want["cohort"].as_i64().unwrap() as i32,
            want["year"].as_i64().unwrap() as i32,
        );
        let c = ok.iter().find(|c| c.group == g && c.time == t).unwrap();
        let e = c.result.as_ref().unwrap();
        close(e.est, num(want, "estimate"), &format!("ATT({g},{t})"));
        close(e.se, num(want, "se"), &format!("ATT({g},{t}) village se"));
    }
    let simple = cs.simple.unwrap().unwrap();
    close(simple.est, num(&r["cs_simple"][0], "estimate"), "simple");
    assert_eq!(simple.n_clusters, 40);
    assert!((simple.se - num(&r["cs_simple"][0], "se")).abs() > 1.0);
    // not-yet-treated comparison households add the later cohorts: a
    // different, still finite estimate
    let nyt = callaway_santanna(&p, Control::NotYetTreated).unwrap();
    let s2 = nyt.simple.unwrap().unwrap();
    assert!(s2.est.is_finite() && (s2.est - simple.est).abs() > 1e-6);
}
