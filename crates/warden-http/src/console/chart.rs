//! Charts drawn on the server as SVG (no script, no library), every text escaped: bar charts
//! (one bar per week, with the value above each bar and a title for screen readers) and an
//! IP's traffic over time (DDOS-6: inbound bps per minute, its capacity as a line, blackholes
//! as shaded bands, with a title and a description for screen readers).

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

/// A rate in words: `2.5 Gbps`, `800 Mbps`, `12 kbps`, `5 bps` (SI units, as networks count).
pub fn rate(bps: u64) -> String {
    let (div, unit) = match bps {
        1_000_000_000_000.. => (1e12, "Tbps"),
        1_000_000_000.. => (1e9, "Gbps"),
        1_000_000.. => (1e6, "Mbps"),
        1_000.. => (1e3, "kbps"),
        _ => return format!("{bps} bps"),
    };
    let v = bps as f64 / div;
    let text = format!("{v:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} {unit}")
}

/// A blackhole period to shade (ms; `end` `None` while it holds).
#[derive(Debug, Clone)]
pub struct Band {
    /// The blackhole's id.
    pub id: String,
    /// Its start.
    pub start: i64,
    /// Its end, or `None` while active.
    pub end: Option<i64>,
    /// Its words (a tooltip).
    pub label: String,
}

/// What [`traffic`] draws.
#[derive(Debug, Clone)]
pub struct TrafficChart<'a> {
    /// The `id` of the `<svg>` (its parts' ids derive from it).
    pub id: &'a str,
    /// The accessible title.
    pub title: &'a str,
    /// The accessible description (what the chart shows, in words).
    pub desc: &'a str,
    /// The window, ms.
    pub from: i64,
    /// The window's end, ms.
    pub to: i64,
    /// (minute start ms, inbound bps) in time order.
    pub points: &'a [(i64, u64)],
    /// The capacity, bps.
    pub capacity: u64,
    /// The capacity line's words.
    pub capacity_label: &'a str,
    /// The traffic line's words (the legend).
    pub traffic_label: &'a str,
    /// The blackhole bands' words (the legend).
    pub band_label: &'a str,
    /// The blackhole periods.
    pub bands: &'a [Band],
    /// The provider's UTC offset, minutes: the time labels' zone.
    pub offset_min: i32,
}

/// "Nice" axis steps: 1, 2 or 5 times a power of ten, about `n` ticks up to `max`.
fn nice_step(max: f64, n: f64) -> f64 {
    let raw = (max / n).max(1.0);
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let m = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * mag
}

/// An IP's inbound traffic over a window as an SVG line chart (DDOS-6): one point per minute
/// (a gap where no minute was recorded — no data is not zero), the capacity as a dashed line
/// (`class="capacity"`), each blackhole as a shaded band (`class="blackhole"`,
/// `data-blackhole` its id), a bps axis and time labels every 3 hours in the provider's zone.
pub fn traffic(c: &TrafficChart<'_>) -> String {
    const W: f64 = 760.0;
    const H: f64 = 280.0;
    const LEFT: f64 = 78.0;
    const RIGHT: f64 = 16.0;
    const TOP: f64 = 30.0;
    const BOTTOM: f64 = 44.0;
    let id = esc(c.id);
    let span = (c.to - c.from).max(1) as f64;
    let peak = c.points.iter().map(|p| p.1).max().unwrap_or(0);
    let top = (peak.max(c.capacity) as f64 * 1.15).max(10.0);
    let step = nice_step(top, 4.0);
    let top = (top / step).ceil() * step;
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let x = |ms: i64| LEFT + ((ms - c.from) as f64 / span).clamp(0.0, 1.0) * pw;
    let y = |bps: f64| TOP + ph - (bps / top).clamp(0.0, 1.0) * ph;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg id="{id}" class="chart traffic-chart" role="img" aria-labelledby="{id}-title {id}-desc" viewBox="0 0 {W} {H}" width="100%" xmlns="http://www.w3.org/2000/svg"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
        esc(c.title),
        esc(c.desc)
    );
    // Blackholes first, under everything else.
    for b in c.bands {
        let end = b.end.unwrap_or(c.to);
        if end < c.from || b.start > c.to {
            continue;
        }
        let (x1, x2) = (x(b.start), x(end));
        let _ = write!(
            s,
            r##"<rect class="blackhole" data-blackhole="{}" x="{x1:.1}" y="{TOP}" width="{w:.1}" height="{ph}" fill="#c62828" fill-opacity="0.16"><title>{}</title></rect>"##,
            esc(&b.id),
            esc(&b.label),
            w = (x2 - x1).max(1.5)
        );
    }
    // The bps axis: grid lines with labels.
    let mut v = 0.0;
    while v <= top + 0.5 {
        let yy = y(v);
        let _ = write!(
            s,
            r##"<line class="grid" x1="{LEFT}" y1="{yy:.1}" x2="{x2}" y2="{yy:.1}" stroke="#e3e7ee"/><text class="axis-y" x="{tx}" y="{ty:.1}" font-size="11" text-anchor="end" fill="#3d4656">{}</text>"##,
            esc(&rate(v as u64)),
            x2 = W - RIGHT,
            tx = LEFT - 6.0,
            ty = yy + 4.0
        );
        v += step;
    }
    // Time labels every 3 hours, on the provider's hours.
    const TICK: i64 = 3 * 3_600_000;
    let offset = i64::from(c.offset_min) * 60_000;
    let mut t = (c.from + offset).div_euclid(TICK) * TICK - offset;
    if t < c.from {
        t += TICK;
    }
    while t <= c.to {
        let xx = x(t);
        let local = (t + offset).rem_euclid(86_400_000);
        let _ = write!(
            s,
            r##"<line class="tick" x1="{xx:.1}" y1="{yb}" x2="{xx:.1}" y2="{yt}" stroke="#aab2bf"/><text class="axis-x" x="{xx:.1}" y="{ly}" font-size="11" text-anchor="middle" fill="#3d4656">{:02}:{:02}</text>"##,
            local / 3_600_000,
            (local / 60_000) % 60,
            yb = TOP + ph,
            yt = TOP + ph + 5.0,
            ly = TOP + ph + 18.0
        );
        t += TICK;
    }
    let _ = write!(
        s,
        r##"<line class="axis" x1="{LEFT}" y1="{yb}" x2="{x2}" y2="{yb}" stroke="#5b6575"/>"##,
        yb = TOP + ph,
        x2 = W - RIGHT
    );
    // The traffic: one path, broken where a minute is missing.
    let mut d = String::new();
    let mut last: Option<i64> = None;
    for (ms, bps) in c.points {
        if *ms < c.from || *ms > c.to {
            continue;
        }
        let cmd = if last.is_some_and(|l| ms - l <= 60_000) {
            'L'
        } else {
            'M'
        };
        let _ = write!(d, "{cmd}{:.1} {:.1} ", x(*ms), y(*bps as f64));
        last = Some(*ms);
    }
    if !d.is_empty() {
        let _ = write!(
            s,
            r##"<path class="traffic" d="{}" fill="none" stroke="#1f5fbf" stroke-width="1.6"><title>{}</title></path>"##,
            d.trim_end(),
            esc(c.traffic_label)
        );
    }
    // The capacity, over the traffic.
    let yc = y(c.capacity as f64);
    let _ = write!(
        s,
        r##"<line id="{id}-capacity" class="capacity" data-bps="{}" x1="{LEFT}" y1="{yc:.1}" x2="{x2}" y2="{yc:.1}" stroke="#e07b00" stroke-width="2" stroke-dasharray="6 4"><title>{}</title></line><text class="capacity-label" x="{x2}" y="{ty:.1}" font-size="11" text-anchor="end" fill="#8a4b00">{}</text>"##,
        c.capacity,
        esc(c.capacity_label),
        esc(c.capacity_label),
        x2 = W - RIGHT,
        ty = (yc - 5.0).max(TOP + 10.0)
    );
    // The legend, above the plot.
    let _ = write!(
        s,
        r##"<g class="legend" font-size="11" fill="#1d2430"><line x1="{LEFT}" y1="14" x2="{l1}" y2="14" stroke="#1f5fbf" stroke-width="2"/><text x="{t1}" y="18">{}</text><rect x="{r}" y="8" width="18" height="12" fill="#c62828" fill-opacity="0.16"/><text x="{t2}" y="18">{}</text></g>"##,
        esc(c.traffic_label),
        esc(c.band_label),
        l1 = LEFT + 20.0,
        t1 = LEFT + 26.0,
        r = LEFT + 260.0,
        t2 = LEFT + 284.0
    );
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

    #[test]
    fn rates_read_in_si_units() {
        assert_eq!(rate(5), "5 bps");
        assert_eq!(rate(12_000), "12 kbps");
        assert_eq!(rate(800_000_000), "800 Mbps");
        assert_eq!(rate(2_000_000_000), "2 Gbps");
        assert_eq!(rate(2_500_000_000), "2.5 Gbps");
        assert_eq!(rate(1_234_000_000_000), "1.23 Tbps");
    }

    /// DDOS-6: the traffic chart has its capacity line at the capacity, one band per
    /// blackhole in the window (none for one outside it), a path broken at a missing minute,
    /// and its texts escaped.
    #[test]
    fn the_traffic_chart_draws_capacity_bands_and_gaps() {
        let from = 1_000 * 60_000;
        let to = from + 86_400_000;
        let points = [
            (from + 60_000, 1_000_000_000),
            (from + 120_000, 3_000_000_000),
            (from + 600_000, 500_000_000),
        ];
        let bands = [
            Band {
                id: "bh_1".into(),
                start: from + 120_000,
                end: Some(from + 7_320_000),
                label: "a <b>".into(),
            },
            Band {
                id: "bh_old".into(),
                start: from - 9_000_000,
                end: Some(from - 1),
                label: "old".into(),
            },
            Band {
                id: "bh_now".into(),
                start: to - 60_000,
                end: None,
                label: "now".into(),
            },
        ];
        let svg = traffic(&TrafficChart {
            id: "t",
            title: "Traffic & <x>",
            desc: "desc",
            from,
            to,
            points: &points,
            capacity: 2_000_000_000,
            capacity_label: "capacity 2 Gbps",
            traffic_label: "inbound",
            band_label: "blackholed",
            bands: &bands,
            offset_min: 480,
        });
        assert!(svg.contains("<title id=\"t-title\">Traffic &amp; &lt;x&gt;</title>"));
        assert!(svg.contains("<desc id=\"t-desc\">desc</desc>"));
        assert!(svg.contains("class=\"capacity\" data-bps=\"2000000000\""));
        assert_eq!(svg.matches("class=\"blackhole\"").count(), 2, "{svg}");
        assert!(svg.contains("data-blackhole=\"bh_1\""));
        assert!(svg.contains("data-blackhole=\"bh_now\""));
        assert!(!svg.contains("bh_old"));
        assert!(svg.contains("a &lt;b&gt;"));
        // Two runs of minutes: a gap of 8 minutes starts a new one.
        let d = svg.split("class=\"traffic\" d=\"").nth(1).unwrap();
        let d = d.split('"').next().unwrap();
        assert_eq!(d.matches('M').count(), 2, "{d}");
        assert_eq!(d.matches('L').count(), 1, "{d}");
        // Time labels every 3 hours, on the provider's hours: 8 or 9 in a day.
        let ticks = svg.matches("class=\"axis-x\"").count();
        assert!((8..=9).contains(&ticks), "{ticks}");
        assert!(
            svg.contains(">2 Gbps</text>") || svg.contains(">1 Gbps</text>"),
            "{svg}"
        );
    }
}
