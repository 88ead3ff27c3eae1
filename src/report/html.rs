//! The HTML report: headline table, county table, income effects and
//! three charts (also written as SVG files next to it).

use std::fmt::Write;
use std::path::Path;

use super::svg::{self, esc};
use super::{fmt_raw, fmt_value, group, write_atomic, ReportData, ReportError};
use crate::analysis::indicators::Level;

/// The charts of a report: (file name, SVG).
pub(crate) fn charts(d: &ReportData<'_>) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    // coverage by county
    if let Some(i) = d
        .defs
        .indicators
        .iter()
        .position(|x| x.def.id == "org_four_in_one")
    {
        let rows = d.rows_of(i, &[Level::County]);
        let labels: Vec<String> = rows.iter().map(|r| r.geo_name.clone()).collect();
        let vals: Vec<f64> = rows.iter().map(|r| r.value.unwrap_or(0.0)).collect();
        let ind = &d.defs.indicators[i];
        let title = format!(
            "{}（{}）",
            ind.def.name_zh,
            d.chosen.get(&i).map_or("", String::as_str)
        );
        out.push((
            "coverage_by_county.svg",
            svg::bars(&title, &labels, &vals, "%", Some(100.0)),
        ));
    }
    // operating-income bands by county
    if let Some(chart) = income_bands(d) {
        out.push(chart);
    }
    // event study, citywide, in yuan
    let mut pts: Vec<(i64, f64, f64, f64)> = d
        .effects
        .iter()
        .filter(|e| e.scope_level == "city" && e.outcome == "income" && e.estimator == "cs_event")
        .filter_map(|e| Some((e.event_time?, e.estimate?, e.ci_low?, e.ci_high?)))
        .collect();
    pts.sort_by_key(|p| p.0);
    out.push((
        "event_study.svg",
        svg::event_plot(
            "共同体成员收入效应：事件研究（Callaway-Sant'Anna，全市，95%置信区间）",
            &pts,
            "元",
        ),
    ));
    out
}

/// The operating-income bands of each county, stacked.
fn income_bands(d: &ReportData<'_>) -> Option<(&'static str, String)> {
    let i = d
        .defs
        .indicators
        .iter()
        .position(|x| x.def.id == "ce_income_band")?;
    let rows = d.rows_of(i, &[Level::County]);
    let mut counties: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r.geo_code.clone(), r.geo_name.clone()))
        .collect();
    counties.sort();
    counties.dedup();
    let ind = &d.defs.indicators[i];
    let cats: Vec<String> = ind.def_categories(&rows);
    let series: Vec<(String, Vec<f64>)> = cats
        .iter()
        .map(|c| {
            let v = counties
                .iter()
                .map(|(code, _)| {
                    rows.iter()
                        .find(|r| &r.geo_code == code && r.category.as_deref() == Some(c))
                        .and_then(|r| r.value)
                        .unwrap_or(0.0)
                })
                .collect();
            (c.clone(), v)
        })
        .collect();
    let labels: Vec<String> = counties.into_iter().map(|c| c.1).collect();
    let title = format!(
        "村集体经营性收入分档（{}，占名录村%）",
        d.chosen.get(&i).map_or("", String::as_str)
    );
    Some((
        "income_bands_by_county.svg",
        svg::stacked(&title, &labels, &series),
    ))
}

trait Categories {
    fn def_categories(&self, rows: &[&crate::analysis::indicators::IndicatorRow]) -> Vec<String>;
}

impl Categories for crate::analysis::indicators::Indicator {
    /// The categories in the order the definition lists them (its `each`),
    /// else in the bands' natural order as they first appear by value.
    fn def_categories(&self, rows: &[&crate::analysis::indicators::IndicatorRow]) -> Vec<String> {
        if !self.def.each.is_empty() {
            return self.def.each.iter().map(|e| e.0.clone()).collect();
        }
        // bands: order by where the label appears in the SQL text
        let mut cats: Vec<String> = rows.iter().filter_map(|r| r.category.clone()).collect();
        cats.sort();
        cats.dedup();
        let sql = self.queries.first().map_or("", |q| q.1.as_str());
        cats.sort_by_key(|c| sql.find(&format!("'{c}'")).unwrap_or(usize::MAX));
        cats
    }
}

fn page(d: &ReportData<'_>, charts: &[(&'static str, String)]) -> String {
    let mut h = String::new();
    let title = format!("{} {} 乡村振兴指标报告", d.pipeline.city, d.period);
    let _ = write!(
        h,
        r#"<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{t}</title><style>
body{{font-family:{f};margin:2em;color:#222}} table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px}} th{{background:#ddebf7}} td.n{{text-align:right;white-space:nowrap}}
.meta{{color:#666}} svg{{max-width:100%;height:auto}}
@page{{size:A4 landscape;margin:12mm}}
@media print{{body{{margin:0;font-size:10pt}} h1{{font-size:16pt}} h2{{font-size:13pt;break-after:avoid}}
thead{{display:table-header-group}} tr,figure{{break-inside:avoid}} th{{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
td,th{{padding:2px 5px}} a{{color:inherit;text-decoration:none}} figure{{margin:0.5em 0}}}}
</style></head><body><h1>{t}</h1>"#,
        t = esc(&title),
        f = svg::FONTS
    );
    let _ = write!(
        h,
        r#"<p class="meta">数据截至 {asof} · 湖版本 {v} · 输入文件 {n} 个 · 指标定义 {defs}</p>"#,
        asof = esc(&d.data_as_of),
        v = esc(&d.lake_version),
        n = d.files.len(),
        defs = esc(&d.defs.path.display().to_string())
    );
    headline(&mut h, d);
    county_table(&mut h, d);
    effects_table(&mut h, d);
    h.push_str("<h2>图表</h2>");
    for (name, s) in charts {
        let _ = write!(
            h,
            r#"<figure>{s}<figcaption><a href="{n}">{n}</a></figcaption></figure>"#,
            n = esc(name)
        );
    }
    h.push_str("<p class=\"meta\">各指标口径、分子分母和输入文件见同目录 Excel 报表的“说明”工作表；<code>zhenxing explain 指标编号 --geo 地区代码 --period 统计期</code> 可列出某个数字背后的每一行原始数据。</p></body></html>\n");
    h
}

/// Every indicator without categories, citywide, with its numerator, denominator and reporting villages.
fn headline(h: &mut String, d: &ReportData<'_>) {
    // headline: every indicator without categories, citywide
    h.push_str("<h2>主要指标（全市）</h2><table><thead><tr><th>指标</th><th>统计期</th><th>数值</th><th>单位</th><th>分子</th><th>分母</th><th>报送村数/名录村数</th></tr></thead><tbody>");
    for (i, ind) in d.defs.indicators.iter().enumerate() {
        // a value in 万元 has its numerator in yuan: said in the cell
        let num_unit = if super::numerator_in_yuan(ind) {
            " 元"
        } else {
            ""
        };
        for r in d.rows_of(i, &[Level::City]) {
            if r.category.is_some() {
                continue;
            }
            let _ = write!(
                h,
                r#"<tr><td>{name}</td><td>{p}</td><td class="n">{v}</td><td>{u}</td><td class="n">{num}</td><td class="n">{den}</td><td class="n">{rep}</td></tr>"#,
                name = esc(&ind.def.name_zh),
                p = esc(&r.period_used),
                v = fmt_value(r.value, &ind.def.unit),
                u = esc(&ind.def.unit),
                num = r
                    .numerator
                    .map_or("—".into(), |x| format!("{}{num_unit}", fmt_raw(Some(x)))),
                den = fmt_raw(r.denominator),
                // stations are not villages: their count says more
                rep = if r.villages_reporting == 0 && ind.def.unit_column != "village_code" {
                    format!("{} 个统计单位", group(r.units as f64, 0))
                } else {
                    format!(
                        "{}/{}",
                        group(r.villages_reporting as f64, 0),
                        group(r.villages_registry as f64, 0)
                    )
                }
            );
        }
    }
    h.push_str("</tbody></table>");
}

/// The uncategorised indicators per county.
fn county_table(h: &mut String, d: &ReportData<'_>) {
    // county table of the uncategorised indicators
    let mut counties: Vec<(String, String)> = d
        .rows
        .iter()
        .filter(|r| r.level == Level::County)
        .map(|r| (r.geo_code.clone(), r.geo_name.clone()))
        .collect();
    counties.sort();
    counties.dedup();
    h.push_str("<h2>分县(市、区)主要指标</h2><table><thead><tr><th>指标</th><th>单位</th>");
    for (_, n) in &counties {
        let _ = write!(h, "<th>{}</th>", esc(n));
    }
    h.push_str("</tr></thead><tbody>");
    for (i, ind) in d.defs.indicators.iter().enumerate() {
        let rows = d.rows_of(i, &[Level::County]);
        if rows.is_empty() || rows.iter().any(|r| r.category.is_some()) {
            continue;
        }
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td>",
            esc(&ind.def.name_zh),
            esc(&ind.def.unit)
        );
        for (code, _) in &counties {
            let v = rows
                .iter()
                .find(|r| &r.geo_code == code)
                .and_then(|r| r.value);
            let _ = write!(h, r#"<td class="n">{}</td>"#, fmt_value(v, &ind.def.unit));
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table>");
}

/// The income effects of the prosperity communities, citywide.
fn effects_table(h: &mut String, d: &ReportData<'_>) {
    // income effects
    h.push_str("<h2>党群致富共同体收入效应（全市）</h2><table><thead><tr><th>结果变量</th><th>方法</th><th>估计值</th><th>单位</th><th>95%置信区间</th><th>标准误</th><th>农户数</th><th>成员户数</th><th>聚类数</th><th>说明</th></tr></thead><tbody>");
    for e in d.effects.iter().filter(|e| {
        e.scope_level == "city"
            && matches!(
                e.estimator,
                "before_after_mean" | "before_after_share_rose" | "twfe_did" | "cs_simple"
            )
    }) {
        let one = |x: Option<f64>| x.map_or("—".into(), |x| group(x, 1));
        let ci = match (e.ci_low, e.ci_high) {
            (Some(a), Some(b)) => format!("[{}, {}]", group(a, 1), group(b, 1)),
            _ => "—".into(),
        };
        let count = |x: Option<u64>| x.map_or("—".into(), |x| group(x as f64, 0));
        let _ = write!(
            h,
            r#"<tr><td>{o}</td><td title="{id}">{m}</td><td class="n">{v}</td><td>{u}</td><td class="n">{ci}</td><td class="n">{se}</td><td class="n">{n}</td><td class="n">{nt}</td><td class="n">{nc}</td><td>{note}</td></tr>"#,
            o = if e.outcome == "income" {
                "家庭年纯收入"
            } else {
                "家庭年纯收入（对数×100）"
            },
            id = esc(e.estimator),
            m = esc(super::xlsx::estimator_zh(e.estimator)),
            v = one(e.estimate),
            u = esc(e.unit),
            se = one(e.se),
            n = count(e.n_households),
            nt = count(e.n_treated),
            nc = count(e.n_clusters),
            note = esc(e.note.as_deref().unwrap_or(""))
        );
    }
    h.push_str("</tbody></table>");
}

/// Writes the report's HTML page and its charts into `dir`.
pub fn write(d: &ReportData<'_>, dir: &Path) -> Result<(), ReportError> {
    let charts = charts(d);
    for (name, s) in &charts {
        write_atomic(&dir.join(name), s.as_bytes())?;
    }
    write_atomic(&dir.join("index.html"), page(d, &charts).as_bytes())
}
