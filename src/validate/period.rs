//! Which county, year and month a file speaks of: from its name, its
//! title and, for the period, its rows.

use super::*;

pub(super) fn year_month_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        // a constant pattern: it compiles or no test passes
        Regex::new(
            r"(20\d{2}|19\d{2})\s*(?:年度|年)?\s*[_\-.]?\s*(?:(\d{1,2})(?:月|[_\-.]|$|[^\d]))?",
        )
        .expect("period pattern")
    })
}

/// Year and month named in a file name or title.
pub fn find_period(text: &str) -> (Option<i32>, Option<u32>) {
    let t = crate::text::to_half_width(text);
    for cap in year_month_re().captures_iter(&t) {
        let y = cap.get(1).and_then(|m| m.as_str().parse::<i32>().ok());
        let m = cap
            .get(2)
            .and_then(|m| m.as_str().parse::<u32>().ok())
            .filter(|m| (1..=12).contains(m));
        if y.is_some() {
            return (y, m);
        }
    }
    (None, None)
}

/// The last day of a text period: `2024` → 2024-12-31, `2024-06` →
/// 2024-06-30, `2024-Q1` → 2024-03-31; `current` and other text: none.
pub fn period_end(period: &str) -> Option<chrono::NaiveDate> {
    let y: i32 = period.get(..4)?.parse().ok()?;
    let rest = period.get(4..)?;
    let last_month = match rest {
        "" => 12,
        r if r.starts_with("-Q") => r[2..].parse::<u32>().ok().filter(|q| (1..=4).contains(q))? * 3,
        r if r.starts_with('-') => r[1..]
            .parse::<u32>()
            .ok()
            .filter(|m| (1..=12).contains(m))?,
        _ => return None,
    };
    let (ny, nm) = if last_month == 12 {
        (y + 1, 1)
    } else {
        (y, last_month + 1)
    };
    chrono::NaiveDate::from_ymd_opt(ny, nm, 1)?.pred_opt()
}

/// Facts about a file that rows without their own column inherit.
#[derive(Debug, Clone, Default)]
pub(super) struct FileContext {
    pub(super) county: Option<String>,
    pub(super) year: Option<i32>,
    pub(super) month: Option<u32>,
}

pub(super) fn context_available(
    ctx: Option<Context>,
    fc: &FileContext,
    township: Option<&str>,
) -> bool {
    match ctx {
        None => false,
        Some(Context::County) => fc.county.is_some(),
        Some(Context::Township) => township.is_some(),
        Some(Context::Year) => fc.year.is_some(),
        Some(Context::Period) => fc.year.is_some() && fc.month.is_some(),
    }
}

pub(super) fn file_period(
    source: &Source,
    ctx: &FileContext,
    records: &[Record],
) -> Option<String> {
    // the most common period among the records, else the file's context
    let idx = source
        .fields
        .iter()
        .position(|f| f.context == Some(Context::Period))
        .or_else(|| {
            source
                .fields
                .iter()
                .position(|f| f.context == Some(Context::Year))
        });
    if let Some(i) = idx {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for r in records {
            let v = match &r.values[i] {
                Value::Date(d) => format!("{:04}-{:02}", d.year(), d.month()),
                Value::Null => continue,
                other => other.render(),
            };
            *counts.entry(v).or_default() += 1;
        }
        if let Some((p, _)) = counts
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        {
            return Some(p);
        }
    }
    match (ctx.year, ctx.month) {
        (Some(y), Some(m)) => Some(format!("{y:04}-{m:02}")),
        (Some(y), None) => Some(format!("{y:04}")),
        _ => None,
    }
}
