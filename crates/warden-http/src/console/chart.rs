//! Bar charts drawn on the server as SVG (no script, no library): one bar per week, with the
//! value above each bar and a title for screen readers. Every text is escaped.

use std::fmt::Write as _;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An SVG bar chart of `values` (one per label; `None` draws no bar) titled `title`.
pub fn bars(
    id: &str,
    title: &str,
    labels: &[String],
    values: &[Option<f64>],
    unit: &str,
) -> String {
    const W: f64 = 720.0;
    const H: f64 = 220.0;
    const TOP: f64 = 28.0;
    const BOTTOM: f64 = 36.0;
    const LEFT: f64 = 8.0;
    let n = labels.len().max(1);
    let max = values
        .iter()
        .flatten()
        .fold(0.0_f64, |m, v| m.max(*v))
        .max(1.0);
    let slot = (W - 2.0 * LEFT) / n as f64;
    let bar = (slot * 0.6).max(2.0);
    let plot = H - TOP - BOTTOM;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg id="{id}" class="chart" role="img" aria-labelledby="{id}-title" viewBox="0 0 {W} {H}" width="100%" xmlns="http://www.w3.org/2000/svg"><title id="{id}-title">{}</title>"#,
        esc(title)
    );
    let _ = write!(
        s,
        r##"<line x1="{LEFT}" y1="{y}" x2="{x2}" y2="{y}" stroke="#aab2bf"/>"##,
        y = H - BOTTOM,
        x2 = W - LEFT
    );
    for (k, label) in labels.iter().enumerate() {
        let x = LEFT + slot * k as f64 + (slot - bar) / 2.0;
        if let Some(v) = values.get(k).copied().flatten() {
            let h = (v / max * plot).max(1.0);
            let y = H - BOTTOM - h;
            let _ = write!(
                s,
                r##"<rect x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{h:.1}" fill="#1f5fbf"><title>{} {}: {v:.0} {}</title></rect><text x="{cx:.1}" y="{ty:.1}" font-size="11" text-anchor="middle" fill="#1d2430">{v:.0}</text>"##,
                esc(title),
                esc(label),
                esc(unit),
                cx = x + bar / 2.0,
                ty = y - 4.0
            );
        }
        let _ = write!(
            s,
            r##"<text x="{cx:.1}" y="{ly:.1}" font-size="10" text-anchor="middle" fill="#5b6575">{}</text>"##,
            esc(label.get(5..).unwrap_or(label)),
            cx = x + bar / 2.0,
            ly = H - BOTTOM + 14.0
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_escapes_its_texts_and_draws_one_bar_per_value() {
        let svg = bars(
            "c",
            "a <b> & c",
            &["2026-01-05".into(), "2026-01-12".into()],
            &[Some(3.0), None],
            "min",
        );
        assert!(svg.contains("a &lt;b&gt; &amp; c"));
        assert_eq!(svg.matches("<rect").count(), 1);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }
}
