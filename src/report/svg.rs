//! Small SVG charts for the HTML report. Text stays text (not paths), in a
//! font list that covers Chinese on Windows, macOS and Linux, so the
//! labels stay readable and searchable.

use std::fmt::Write;

/// Fonts tried in order; every desktop system has one of them.
pub(crate) const FONTS: &str = "'Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei','PingFang SC','Hiragino Sans GB','WenQuanYi Micro Hei','SimHei',sans-serif";

/// Escapes text for XML and HTML.
pub(crate) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const PALETTE: [&str; 7] = [
    "#c23531", "#e98f36", "#f3c846", "#7fb77e", "#3c8dbc", "#6e5ea8", "#9a9a9a",
];

fn open(w: f64, h: f64, title: &str) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="{f}" font-size="13">"#,
        f = esc(FONTS)
    );
    let _ = write!(
        s,
        r#"<rect width="{w}" height="{h}" fill="white"/><text x="{x}" y="22" text-anchor="middle" font-size="16" font-weight="bold">{t}</text>"#,
        x = w / 2.0,
        t = esc(title)
    );
    s
}

/// Horizontal bars, one per label.
pub(crate) fn bars(
    title: &str,
    labels: &[String],
    values: &[f64],
    unit: &str,
    max: Option<f64>,
) -> String {
    let row = 26.0;
    let left = 110.0;
    let width = 420.0;
    let h = 50.0 + row * labels.len() as f64 + 20.0;
    let top = values.iter().copied().fold(0.0, f64::max);
    let max = max.unwrap_or(if top > 0.0 { top } else { 1.0 });
    let mut s = open(left + width + 90.0, h, title);
    for (i, (l, v)) in labels.iter().zip(values).enumerate() {
        let y = 40.0 + row * i as f64;
        let bw = (v / max).clamp(0.0, 1.0) * width;
        let _ = write!(
            s,
            r#"<text x="{tx}" y="{ty}" text-anchor="end">{l}</text><rect x="{left}" y="{y}" width="{bw:.1}" height="18" fill="{c}"/><text x="{vx:.1}" y="{ty}">{v:.1}{u}</text>"#,
            tx = left - 6.0,
            ty = y + 14.0,
            l = esc(l),
            c = PALETTE[4],
            vx = left + bw + 4.0,
            u = esc(unit)
        );
    }
    s.push_str("</svg>");
    s
}

/// Stacked horizontal bars of shares (each row adds to 100 %).
pub(crate) fn stacked(title: &str, labels: &[String], series: &[(String, Vec<f64>)]) -> String {
    let row = 26.0;
    let left = 110.0;
    let width = 460.0;
    let mut lines = 1.0;
    let mut lx = 0.0;
    for (name, _) in series {
        let w = 16.0 + 13.0 * name.chars().count() as f64 + 14.0;
        if lx + w > width && lx > 0.0 {
            lines += 1.0;
            lx = 0.0;
        }
        lx += w;
    }
    let h = 50.0 + row * labels.len() as f64 + 20.0 * lines + 24.0;
    let mut s = open(left + width + 30.0, h, title);
    for (i, l) in labels.iter().enumerate() {
        let y = 40.0 + row * i as f64;
        let _ = write!(
            s,
            r#"<text x="{tx}" y="{ty}" text-anchor="end">{l}</text>"#,
            tx = left - 6.0,
            ty = y + 14.0,
            l = esc(l)
        );
        let mut x = left;
        for (k, (name, vals)) in series.iter().enumerate() {
            let v = vals.get(i).copied().unwrap_or(0.0).max(0.0);
            let bw = v / 100.0 * width;
            let _ = write!(
                s,
                r#"<rect x="{x:.1}" y="{y}" width="{bw:.1}" height="18" fill="{c}"><title>{n} {v:.1}%</title></rect>"#,
                c = PALETTE[k % PALETTE.len()],
                n = esc(name)
            );
            x += bw;
        }
    }
    // the legend wraps onto as many lines as it needs
    let mut ly = 40.0 + row * labels.len() as f64 + 8.0;
    let mut x = left;
    for (k, (name, _)) in series.iter().enumerate() {
        let w = 16.0 + 13.0 * name.chars().count() as f64 + 14.0;
        if x + w > left + width && x > left {
            x = left;
            ly += 20.0;
        }
        let _ = write!(
            s,
            r#"<rect x="{x:.1}" y="{ly}" width="12" height="12" fill="{c}"/><text x="{tx:.1}" y="{ty}">{n}</text>"#,
            c = PALETTE[k % PALETTE.len()],
            tx = x + 16.0,
            ty = ly + 11.0,
            n = esc(name)
        );
        x += w;
    }
    s.push_str("</svg>");
    s
}

/// Event-study plot: estimate and 95 % interval per year since joining.
pub(crate) fn event_plot(title: &str, points: &[(i64, f64, f64, f64)], unit: &str) -> String {
    let (w, h) = (600.0, 340.0);
    let (l, r, t, b) = (70.0, 20.0, 40.0, 50.0);
    let mut s = open(w, h, title);
    if points.is_empty() {
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">无可估计的结果</text></svg>"#,
            w / 2.0,
            h / 2.0
        );
        return s;
    }
    let emin = points.iter().map(|p| p.0).min().unwrap_or(0) as f64 - 0.5;
    let emax = points.iter().map(|p| p.0).max().unwrap_or(0) as f64 + 0.5;
    let lo = points.iter().map(|p| p.2).fold(0.0, f64::min);
    let hi = points.iter().map(|p| p.3).fold(0.0, f64::max);
    // round ticks (1, 2 or 5 × a power of ten) that include zero
    let ticks = nice_ticks(lo, hi, 5);
    let lo = ticks.first().copied().unwrap_or(lo);
    let hi = ticks.last().copied().unwrap_or(hi).max(lo + 1e-9);
    let x = |e: f64| l + (e - emin) / (emax - emin) * (w - l - r);
    let y = |v: f64| t + (hi - v) / (hi - lo) * (h - t - b);
    let x2 = w - r;
    for &v in &ticks {
        let zero = v == 0.0;
        let _ = write!(
            s,
            r##"<line x1="{l}" y1="{yv:.1}" x2="{x2}" y2="{yv:.1}" stroke="{c}" stroke-width="{sw}"/><text x="{tx}" y="{ty:.1}" text-anchor="end" font-size="11">{v}</text>"##,
            yv = y(v),
            c = if zero { "#333" } else { "#e4e4e4" },
            sw = if zero { 1.2 } else { 1.0 },
            tx = l - 4.0,
            ty = y(v) + 4.0,
            v = super::group(v, tick_decimals(&ticks))
        );
    }
    // axes and the joining year
    let _ = write!(
        s,
        r##"<line x1="{xj:.1}" y1="{t}" x2="{xj:.1}" y2="{yb}" stroke="#999" stroke-dasharray="4 3"/><line x1="{l}" y1="{t}" x2="{l}" y2="{yb}" stroke="#333"/><line x1="{l}" y1="{yb}" x2="{x2}" y2="{yb}" stroke="#333"/>"##,
        xj = x(-0.5),
        yb = h - b
    );
    for &(e, est, cl, ch) in points {
        let px = x(e as f64);
        let c = if e < 0 { "#3c8dbc" } else { "#c23531" };
        let _ = write!(
            s,
            r#"<line x1="{px:.1}" y1="{a:.1}" x2="{px:.1}" y2="{b2:.1}" stroke="{c}" stroke-width="2"/><circle cx="{px:.1}" cy="{py:.1}" r="4" fill="{c}"><title>{e}: {est:.1} [{cl:.1}, {ch:.1}]</title></circle><text x="{px:.1}" y="{ly}" text-anchor="middle" font-size="11">{e}</text>"#,
            a = y(cl),
            b2 = y(ch),
            py = y(est),
            ly = h - b + 16.0
        );
    }
    let _ = write!(
        s,
        r#"<text x="{cx}" y="{ly}" text-anchor="middle">距加入共同体年数（−1 为基期）</text><text x="16" y="{cy}" transform="rotate(-90 16 {cy})" text-anchor="middle">效应（{u}）</text></svg>"#,
        cx = (l + w - r) / 2.0,
        ly = h - 10.0,
        cy = (t + h - b) / 2.0,
        u = esc(unit)
    );
    s
}

/// Tick values from below `lo` to above `hi`, about `n` of them, at a
/// step of 1, 2 or 5 times a power of ten; zero is one of them when the
/// range holds it.
pub(crate) fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 1.0, lo + 1.0)
    };
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).floor() as i64;
    let last = (hi / step).ceil() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// Decimals that tell the ticks apart (none for steps of 1 or more).
fn tick_decimals(ticks: &[f64]) -> usize {
    match ticks {
        [a, b, ..] => {
            let step = (b - a).abs();
            if step >= 1.0 {
                0
            } else {
                (-step.log10().floor()) as usize
            }
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_hold_zero() {
        assert_eq!(
            nice_ticks(-980.0, 2058.0, 5),
            vec![-1000.0, 0.0, 1000.0, 2000.0, 3000.0]
        );
        assert_eq!(nice_ticks(0.0, 9.0, 5), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(tick_decimals(&nice_ticks(0.0, 0.9, 5)), 1);
    }
}
