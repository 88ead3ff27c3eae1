//! What the city office sends back to the counties and watches for them:
//! header drift (`status --headers`).

use crate::cmd::exit;
use crate::config::Pipeline;
use crate::lake::Layout;

/// `status --headers`: per county and template, the latest submission's
/// headers against the one before (text, or one JSON document).
pub fn headers(p: &Pipeline, layout: &Layout, json: bool) -> i32 {
    let drift = crate::lake::drift::drift(layout);
    if json {
        let v = serde_json::json!({
            "version": layout.current(),
            "drift": drift,
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return exit::CLEAN;
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
            "\n{} {} {}: {} ({}) against {} ({})",
            d.county,
            d.template,
            title,
            d.latest.period,
            d.latest.path,
            d.previous.period,
            d.previous.path
        );
        for c in &d.changes {
            println!("  {}", c.en());
            println!("    {}", c.zh());
        }
    }
    exit::CLEAN
}
