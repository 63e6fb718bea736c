//! The tap views: the stream of requests (9), their summary (0) and one request in full.
//! Above each table, one line per tap source: what it taps, how it is doing, what did not
//! parse and how to turn access logs on.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::table;
use super::theme::Theme;
use crate::app::State;
use crate::app::format;
use crate::app::table::tap::{Tap, method, status};
use crate::app::table::tap_summary::TapSummary;
use crate::model::tap::{TapSourceState, TapSourceStatus};
use crate::tap::TapFilter;

/// Source lines shown above the tables at most.
const SOURCE_LINES: usize = 3;

fn source_line(name: &str, s: &TapSourceStatus, t: &Theme, width: usize) -> Line<'static> {
    let (state, style) = match s.state {
        TapSourceState::Connecting => ("connecting", Style::default().fg(t.dim)),
        TapSourceState::Streaming => ("streaming", Style::default().fg(t.ok)),
        TapSourceState::Ended => ("ended", Style::default().fg(t.dim)),
        TapSourceState::Failed => ("failed", Style::default().fg(t.error)),
    };
    let mut text = state.to_string();
    if let Some(m) = &s.message {
        text.push_str(&format!(" · {m}"));
    }
    if s.unparsed > 0 {
        text.push_str(&format!(
            " · {} of {} log lines not access-log entries",
            s.unparsed, s.lines
        ));
        if let Some(l) = &s.last_unparsed {
            text.push_str(&format!(" (last: {l})"));
        }
    }
    // A benchmark's name says what it is; the cluster's taps say where they read.
    let head = match s.origin {
        crate::model::tap::TapOrigin::Bench => format!(" {name}: "),
        origin => format!(" {name} ({}): ", origin.as_str()),
    };
    let room = width.saturating_sub(head.chars().count());
    Line::from(vec![
        Span::styled(head, Style::default().fg(t.title)),
        Span::styled(format::fit(&text, room), style),
    ])
}

/// The source lines, or how to start a tap when there is none.
fn sources(state: &State, t: &Theme, width: usize) -> Vec<Line<'static>> {
    if state.tap.sources.is_empty() {
        let hint = " no tap running: t on a pod or workload, :tap deploy/NAME [-n NS], or run a benchmark (b)";
        return vec![Line::from(Span::styled(
            format::fit(hint, width),
            Style::default().fg(t.dim),
        ))];
    }
    // Failed and live sources first: they are what the user acts on.
    let mut all: Vec<_> = state.tap.sources.iter().collect();
    all.sort_by_key(|(_, s)| match s.state {
        TapSourceState::Failed => 0,
        TapSourceState::Connecting | TapSourceState::Streaming => 1,
        TapSourceState::Ended => 2,
    });
    let more = all.len().saturating_sub(SOURCE_LINES);
    let mut lines = Vec::new();
    for (name, s) in all.into_iter().take(SOURCE_LINES) {
        lines.push(source_line(name, s, t, width));
        // What to do about it gets a line of its own, so the counts never cut it off.
        if let Some(h) = &s.hint {
            // Wrapped (at most three lines), so the second way of turning logs on is seen too.
            for part in super::hang(h, width.saturating_sub(4)).into_iter().take(3) {
                lines.push(Line::from(Span::styled(
                    format!("   {part}"),
                    Style::default().fg(t.warn),
                )));
            }
        }
    }
    if more > 0 {
        lines.push(Line::from(Span::styled(
            format!(" … and {}", format::plural(more, "more source")),
            Style::default().fg(t.dim),
        )));
    }
    lines
}

fn split(state: &State, t: &Theme, area: Rect) -> (Vec<Line<'static>>, Rect, Rect) {
    let lines = sources(state, t, area.width as usize);
    let [top, body] = Layout::vertical([Constraint::Length(lines.len() as u16), Constraint::Min(3)]).areas(area);
    (lines, top, body)
}

/// Why the stream is empty.
fn empty_stream(state: &State) -> String {
    let entry = state.entry();
    if let Err(e) = TapFilter::parse(&entry.filter) {
        return format!(" filter: {e} ");
    }
    if !entry.filter.trim().is_empty() && !state.tap.events.is_empty() {
        return " no request matches the filter (esc clears it) ".into();
    }
    if state.tap.live() {
        " waiting for requests… ".into()
    } else {
        " no requests tapped ".into()
    }
}

pub fn render_stream(state: &State, t: &Theme, frame: &mut Frame, area: Rect) {
    let (lines, top, body) = split(state, t, area);
    frame.render_widget(Paragraph::new(lines), top);
    let entry = state.entry();
    let rows = crate::app::table::rows::<Tap>(state, entry);
    let mut title = "tap".to_string();
    if state.tap.pause_overrun() {
        title.push_str(" · paused past the 10,000 kept: the oldest kept is shown (p resumes)");
    } else if state.tap.paused_at.is_some() {
        title.push_str(&format!(" · paused, {} new (p resumes)", state.tap.unseen()));
    }
    // A filter that does not parse says so even when the table has rows to show.
    let filter_error = TapFilter::parse(&entry.filter).err();
    let empty = match (&filter_error, rows.is_empty()) {
        (Some(e), _) => Some(format!(" filter: {e} ")),
        (None, true) => Some(empty_stream(state)),
        (None, false) => None,
    };
    table::draw::<Tap>(state, t, frame, body, &rows, entry, &title, empty);
}

pub fn render_summary(state: &State, t: &Theme, frame: &mut Frame, area: Rect) {
    let (lines, top, body) = split(state, t, area);
    frame.render_widget(Paragraph::new(lines), top);
    let entry = state.entry();
    let rows = crate::app::table::rows::<TapSummary>(state, entry);
    let window = state.tap.summary.window_ms().map_or_else(
        || "all".into(),
        |w| crate::input::human(std::time::Duration::from_millis(w as u64)),
    );
    let title = format!("tap summary · last {window}");
    let empty = rows.is_empty().then(|| {
        if entry.filter.is_empty() {
            format!(" no requests in the last {window} ")
        } else {
            " nothing matches the filter (esc clears it) ".into()
        }
    });
    table::draw::<TapSummary>(state, t, frame, body, &rows, entry, &title, empty);
}

pub fn render_event(state: &State, t: &Theme, frame: &mut Frame, area: Rect, seq: u64) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(Style::default().fg(t.border))
        .title(Span::styled(
            format!(" tap request #{seq} "),
            Style::default().fg(t.title).add_modifier(Modifier::BOLD),
        ));
    let Some(entry) = state.tap.get(seq) else {
        let msg = " this request is no longer kept (the newest 10,000 are); esc goes back";
        frame.render_widget(
            Paragraph::new(Span::styled(msg, Style::default().fg(t.warn))).block(block),
            area,
        );
        return;
    };
    let e = &entry.event;
    let width = area.width.saturating_sub(2) as usize;
    let label = Style::default().fg(t.dim);
    let value = Style::default();
    let mut lines = Vec::new();
    let mut kv = |k: &str, v: String| {
        lines.extend(super::labelled(&format!(" {k}"), 28, &v, width, label, value));
    };
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    kv("time (UTC)", format::clock(e.time));
    kv(
        "from",
        format!("{} ({})", e.origin.as_str(), e.reporter.as_deref().unwrap_or("-")),
    );
    kv("direction", e.direction.map_or("-", |d| d.as_str()).into());
    kv("source", e.source.clone());
    kv("destination", e.destination.clone());
    kv("method", method(entry).into());
    kv("authority / path", e.target());
    kv("status", status(entry));
    kv("success", if e.success() { "yes".into() } else { "no".into() });
    kv("latency", format::opt_millis(e.duration_ms));
    kv(
        "bytes received / sent",
        format!(
            "{} / {}",
            e.bytes_received.map_or_else(|| "-".into(), format::bytes),
            e.bytes_sent.map_or_else(|| "-".into(), format::bytes)
        ),
    );
    if let Some(g) = e.grpc_status {
        kv("grpc status", g.to_string());
    }
    kv("response flags", opt(&e.response_flags));
    kv("upstream host", opt(&e.upstream_host));
    kv("upstream cluster", opt(&e.upstream_cluster));
    if let Some(err) = &e.error {
        kv("error", err.clone());
    }
    for (k, v) in &e.details {
        kv(k, v.clone());
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
