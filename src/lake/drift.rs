//! Header drift: how a county's headers changed between two submissions of
//! the same template. Every run records each file's headers (the spelling
//! matched for each field, the unknown columns) in its segment; here the
//! latest submission of each county × template is compared with the one
//! before it, so the city office adds a header variant before rows fail.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::catalogue::Lang;
use crate::lake::{FileStatus, Layout};
use crate::validate::HeaderRecord;

/// How a submission was made: `official form v…` or `hand-made`.
pub(crate) fn made_on(s: &Submission) -> String {
    match &s.headers.form {
        Some(v) => format!("official form v{v}"),
        None => "hand-made".into(),
    }
}

/// One submission of a template by a county, with its headers.
#[derive(Debug, Clone, Serialize)]
pub struct Submission {
    /// The county.
    pub county: String,
    /// The template.
    pub template: String,
    /// The period.
    pub period: String,
    /// The file's path in the inbox.
    pub path: String,
    /// The run that first saw the file's content.
    pub first_seen: String,
    /// Its headers.
    pub headers: HeaderRecord,
}

/// One change of the latest submission against the one before.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// A field is now written another way (`official`: the template's own
    /// header; otherwise matched through a variant).
    NewSpelling {
        /// The field.
        field: String,
        /// Its header now.
        label: String,
        /// It is the template's own header.
        official: bool,
        /// Its headers before.
        before: Vec<String>,
    },
    /// A column no template header matches.
    NewUnknown {
        /// Its header.
        label: String,
    },
    /// A field the previous submission had is not there any more.
    Gone {
        /// The field.
        field: String,
        /// Its header before.
        label: String,
    },
}

impl Change {
    /// One line in the given language: Chinese for the county officer
    /// and the report, English for `status`.
    pub fn line(&self, lang: Lang) -> String {
        let t = |zh: &'static str, en: &'static str| if lang == Lang::Zh { zh } else { en };
        let (text, vars) = match self {
            Change::NewSpelling {
                field,
                label,
                official,
                before,
            } => (
                t(
                    "字段 {field} 的表头改为“{label}”（{how}；之前为 {before}）",
                    "{field}: now headed \"{label}\" ({how}; before: {before})",
                ),
                vec![
                    ("field", field.clone()),
                    ("label", label.clone()),
                    (
                        "how",
                        match official {
                            true => t("模板表头", "the template's header"),
                            false => t("按表头变体识别", "matched through a variant"),
                        }
                        .to_string(),
                    ),
                    ("before", quoted(before)),
                ],
            ),
            Change::NewUnknown { label } => (
                t(
                    "新增未知列“{label}”（未读入）",
                    "new unknown column \"{label}\" (not read)",
                ),
                vec![("label", label.clone())],
            ),
            Change::Gone { field, label } => (
                t(
                    "字段 {field} 的列不见了（之前为“{label}”）",
                    "{field}: the column is gone (was \"{label}\")",
                ),
                vec![("field", field.clone()), ("label", label.clone())],
            ),
        };
        crate::text::fill(text, &vars)
    }
}

fn quoted(v: &[String]) -> String {
    if v.is_empty() {
        return "—".into();
    }
    v.iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The latest submission of a county × template against the one before.
#[derive(Debug, Clone, Serialize)]
pub struct Drift {
    /// The county.
    pub county: String,
    /// The template.
    pub template: String,
    /// The latest submission.
    pub latest: Submission,
    /// The one before.
    pub previous: Submission,
    /// What changed.
    pub changes: Vec<Change>,
}

/// The headers of a batch's segments (the part of `<batch>.json` needed).
#[derive(Deserialize)]
struct BatchHeaders {
    segments: Vec<SegmentHeaders>,
}

#[derive(Deserialize)]
struct SegmentHeaders {
    #[serde(default)]
    segment: String,
    #[serde(default)]
    headers: HeaderRecord,
}

/// The header record of every segment under a segment folder, by segment.
pub(crate) fn segment_headers(dir: &std::path::Path) -> BTreeMap<String, HeaderRecord> {
    let mut headers = BTreeMap::new();
    for (_, b) in crate::lake::manifest::read_batches::<BatchHeaders>(dir) {
        for s in b.segments {
            headers.insert(s.segment, s.headers);
        }
    }
    headers
}

/// Every usable submission of the published version (current and
/// superseded files with a template and a county), oldest first per
/// county × template: by period, then by when the content arrived. Files
/// read before headers were recorded have an empty record.
pub fn submissions(layout: &Layout) -> Vec<Submission> {
    let Some(current) = layout.current() else {
        return Vec::new();
    };
    let Ok(meta) = layout.version_meta(&current) else {
        return Vec::new();
    };
    let headers = segment_headers(&layout.segments().join(&meta.basis));
    let mut out: Vec<Submission> = meta
        .files
        .iter()
        .filter(|f| f.status != FileStatus::Failed)
        .filter_map(|f| {
            Some(Submission {
                county: f.county.clone()?,
                template: f.template.clone()?,
                period: f.period.clone().unwrap_or_default(),
                path: f.path.clone(),
                first_seen: f.first_seen.clone(),
                headers: headers.get(f.segment()).cloned().unwrap_or_default(),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        (&a.county, &a.template, &a.period, &a.first_seen, &a.path).cmp(&(
            &b.county,
            &b.template,
            &b.period,
            &b.first_seen,
            &b.path,
        ))
    });
    out
}

/// What changed from `before` to `after`.
pub fn changes(before: &HeaderRecord, after: &HeaderRecord) -> Vec<Change> {
    let labels = |r: &HeaderRecord, field: &str| -> Vec<String> {
        r.matched
            .iter()
            .filter(|h| h.field == field)
            .map(|h| h.label.clone())
            .collect()
    };
    let mut out = Vec::new();
    for h in &after.matched {
        let was = labels(before, &h.field);
        if !was.contains(&h.label) {
            out.push(Change::NewSpelling {
                field: h.field.clone(),
                label: h.label.clone(),
                official: h.official,
                before: was,
            });
        }
    }
    let unknown_before: BTreeSet<&String> = before.unknown.iter().collect();
    for u in &after.unknown {
        if !unknown_before.contains(u) {
            out.push(Change::NewUnknown { label: u.clone() });
        }
    }
    let fields_after: BTreeSet<&str> = after.matched.iter().map(|h| h.field.as_str()).collect();
    let mut gone_seen = BTreeSet::new();
    for h in &before.matched {
        if !fields_after.contains(h.field.as_str()) && gone_seen.insert(h.field.clone()) {
            out.push(Change::Gone {
                field: h.field.clone(),
                label: h.label.clone(),
            });
        }
    }
    out
}

/// Per county × template with two submissions or more: the latest against
/// the one before (pairs without a header record on either side are left
/// out: nothing to compare).
pub fn drift(layout: &Layout) -> Vec<Drift> {
    let subs = submissions(layout);
    let mut by: BTreeMap<(String, String), Vec<&Submission>> = BTreeMap::new();
    for s in &subs {
        by.entry((s.county.clone(), s.template.clone()))
            .or_default()
            .push(s);
    }
    by.into_iter()
        .filter_map(|((county, template), v)| {
            let [.., previous, latest] = v.as_slice() else {
                return None;
            };
            if previous.headers.is_empty() || latest.headers.is_empty() {
                return None;
            }
            Some(Drift {
                county,
                template,
                changes: changes(&previous.headers, &latest.headers),
                latest: (*latest).clone(),
                previous: (*previous).clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::HeaderUse;

    fn rec(matched: &[(&str, &str, bool)], unknown: &[&str]) -> HeaderRecord {
        HeaderRecord {
            matched: matched
                .iter()
                .map(|(f, l, o)| HeaderUse {
                    field: f.to_string(),
                    label: l.to_string(),
                    official: *o,
                })
                .collect(),
            unknown: unknown.iter().map(|s| s.to_string()).collect(),
            columns: Default::default(),
            form: None,
        }
    }

    #[test]
    fn a_renamed_an_added_and_a_dropped_column() {
        let before = rec(
            &[
                ("village", "村(社区)", true),
                ("persons", "培训人次", true),
                ("members", "双带党员数", true),
            ],
            &["备注"],
        );
        let after = rec(
            &[
                ("village", "村(社区)", true),
                ("persons", "参训人次", false),
            ],
            &["备注", "联系电话"],
        );
        assert_eq!(
            changes(&before, &after),
            vec![
                Change::NewSpelling {
                    field: "persons".into(),
                    label: "参训人次".into(),
                    official: false,
                    before: vec!["培训人次".into()],
                },
                Change::NewUnknown {
                    label: "联系电话".into()
                },
                Change::Gone {
                    field: "members".into(),
                    label: "双带党员数".into()
                },
            ]
        );
        assert!(changes(&after, &after).is_empty());
    }
}
