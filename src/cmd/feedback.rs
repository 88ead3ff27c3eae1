//! What the city office sends back to the counties and watches for them:
//! header drift (`status --headers`), the reporting scorecard (`status
//! --scorecard`) and one county's standing in a few Chinese lines
//! (`status --county NAME --text`).

use std::path::Path;

use chrono::NaiveDate;

use crate::catalogue::Lang;
use crate::cmd::exit::{CommandError, Done, Outcome};
use crate::config::Pipeline;
use crate::lake::quality::Score;
use crate::lake::Layout;

/// `status --headers`: per county and template, the latest submission's
/// headers against the one before (text, or one JSON document).
pub fn headers(p: &Pipeline, layout: &Layout, json: bool, county: Option<&str>) -> Outcome {
    let mut drift = crate::lake::drift::drift(layout);
    if let Some(c) = county {
        drift.retain(|d| d.county == c);
    }
    if json {
        let v = serde_json::json!({
            "version": layout.current(),
            "drift": drift,
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(Done::Clean);
    }
    let changed: Vec<_> = drift.iter().filter(|d| !d.changes.is_empty()).collect();
    println!(
        "header drift, lake version {}: the latest submission of each county and template against the one before; {} of {} changed",
        layout.current().as_deref().unwrap_or("(none)"),
        changed.len(),
        drift.len()
    );
    for d in changed {
        let title = p
            .source(&d.template)
            .map(|s| s.title.as_str())
            .unwrap_or("");
        println!(
            "\n{} {} {}: {} ({}, {}) against {} ({}, {})",
            d.county,
            d.template,
            title,
            d.latest.period,
            d.latest.path,
            crate::lake::drift::made_on(&d.latest),
            d.previous.period,
            d.previous.path,
            crate::lake::drift::made_on(&d.previous)
        );
        for c in &d.changes {
            println!("  {}", c.line(Lang::En));
            println!("    {}", c.line(Lang::Zh));
        }
    }
    Ok(Done::Clean)
}

fn pct(x: Option<f64>) -> String {
    x.map(|v| format!("{v:.1}%")).unwrap_or_else(|| "—".into())
}

/// A score's reasons: `E_UNKNOWN_VILLAGE 名录中没有该村 6 (again)`.
pub(crate) fn reasons_en(s: &Score) -> String {
    s.top
        .iter()
        .map(|r| {
            format!(
                "{} {} {}{}",
                r.code,
                r.label_zh,
                r.rows,
                if r.repeated { " (again)" } else { "" }
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `status --scorecard`: per county and period, submissions on time of
/// those due, rows returned, the most frequent reasons.
pub fn scorecard(
    p: &Pipeline,
    layout: &Layout,
    as_of: NaiveDate,
    json: bool,
    county: Option<&str>,
) -> Outcome {
    let mut scores =
        crate::lake::quality::scorecard(p, layout, as_of).map_err(CommandError::failed)?;
    if let Some(c) = county {
        scores.retain(|s| s.county == c);
    }
    if json {
        let v = serde_json::json!({
            "as_of": as_of.to_string(),
            "version": layout.current(),
            "scorecard": scores,
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(Done::Clean);
    }
    println!(
        "reporting scorecard as of {as_of}, lake version {}: per county and period, submissions received by the due day ({} days after the period) of those due, data rows returned, the most frequent reasons ((again): also in the period before)",
        layout.current().as_deref().unwrap_or("(none)"),
        p.lake.due_days
    );
    let mut last = "";
    for s in &scores {
        if s.county != last {
            println!("\n{}", s.county);
            last = &s.county;
        }
        println!(
            "  {:<8} on time {:>2}/{:<2} {:>6}   returned {:>5} of {:>6} rows {:>6}   {}",
            s.period,
            s.on_time,
            s.expected,
            pct(s.on_time_pct()),
            s.returned,
            s.rows,
            pct(s.returned_pct()),
            reasons_en(s)
        );
    }
    Ok(Done::Clean)
}

/// `status --county NAME --text`: what was received, what is overdue, how
/// many rows were returned and why, in a few Chinese lines.
pub(crate) fn county_text(
    p: &Pipeline,
    layout: &Layout,
    out: &Path,
    as_of: NaiveDate,
    county: &str,
) -> Outcome {
    let cells: Vec<_> = crate::lake::submissions::cells(p, layout, as_of)
        .into_iter()
        .filter(|c| c.county == county)
        .collect();
    let (reasons, files) =
        crate::lake::quality::county_returned(layout, county).map_err(CommandError::failed)?;
    let title = |t: &str| p.source(t).map(|s| s.title.clone()).unwrap_or_default();
    println!(
        "{county}报送情况（截至 {as_of}，数据版本 {}）",
        layout.current().as_deref().unwrap_or("无")
    );
    let got: Vec<String> = cells
        .iter()
        .filter_map(|c| Some(format!("{} {}", c.template, c.latest.as_deref()?)))
        .collect();
    println!(
        "已收到 {} 个模板（最新一期）：{}。",
        got.len(),
        if got.is_empty() {
            "无".into()
        } else {
            got.join("，")
        }
    );
    let late: Vec<String> = cells
        .iter()
        .filter(|c| c.state == "overdue" || (c.state == "never" && c.expected.is_some()))
        .map(|c| match &c.latest {
            Some(l) => format!(
                "{} {}（应报至 {}，最新 {l}）",
                c.template,
                title(&c.template),
                c.expected.as_deref().unwrap_or("-")
            ),
            None => format!("{} {}（从未报送）", c.template, title(&c.template)),
        })
        .collect();
    if late.is_empty() {
        println!("无逾期。");
    } else {
        println!("逾期 {} 个：{}。", late.len(), late.join("；"));
    }
    returned_lines(&reasons, files, &out.join("feedback").join(county));
    Ok(Done::Clean)
}

/// What was returned: unusable files (counted as files), returned rows by
/// reason (as rows), and what the county does next, in words for a clerk
/// (no command, no path): fix by the annotated copies, else by the reasons.
fn returned_lines(reasons: &[crate::lake::quality::Reason], files: usize, feedback: &Path) {
    let unusable: usize = reasons
        .iter()
        .filter(|r| r.code.starts_with("F_"))
        .map(|r| r.rows)
        .sum();
    let reasons: Vec<_> = reasons
        .iter()
        .filter(|r| !r.code.starts_with("F_"))
        .collect();
    let rows: usize = reasons.iter().map(|r| r.rows).sum();
    if unusable > 0 {
        println!("无法使用的文件 {unusable} 个（格式、模板或表头问题），请重新报送。");
    }
    if rows == 0 {
        println!("没有退回的行。");
    }
    if rows == 0 && unusable == 0 {
        return;
    }
    if rows > 0 {
        let why: Vec<String> = reasons
            .iter()
            .map(|r| format!("{} {} 行", r.label_zh, r.rows))
            .collect();
        println!("退回 {rows} 行，涉及 {files} 个文件：{}。", why.join("，"));
    }
    // written to be pasted to a county clerk: no command, no server path
    if feedback.is_dir() {
        println!("每个文件的批注副本已标出有问题的单元格，请按批注修改后重新报送。");
    } else {
        println!("请按上述原因核对修改后重新报送；需要逐格标注的，可向市里索取批注副本。");
    }
}
