//! Header (breadcrumbs), prompt line and the status line.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::theme::Theme;
use crate::app::State;
use crate::app::format::{age, clock};
use crate::app::state::Mode;
use crate::model::{ErrorKind, Resource};

/// `meshtop │ <pods> <namespaces>` breadcrumbs, newest last.
pub fn header(state: &State, t: &Theme, frame: &mut Frame, area: Rect) {
    let mut spans = vec![Span::styled(
        " meshtop ",
        Style::default().fg(t.accent).add_modifier(Modifier::BOLD),
    )];
    let last = state.stack.len() - 1;
    for (i, e) in state.stack.iter().enumerate() {
        let style = if i == last {
            Style::default()
                .fg(t.crumb_fg)
                .bg(t.crumb_bg)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().fg(t.dim)
        };
        spans.push(Span::raw(" "));
        spans.push(Span::styled(format!("<{}>", e.view.title()), style));
    }
    spans.push(Span::styled("   ? help", Style::default().fg(t.dim)));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The filter or command being typed, else a flash message, else nothing.
pub fn prompt(state: &State, t: &Theme, frame: &mut Frame, area: Rect) {
    let line = match state.mode {
        Mode::Filter => Line::from(vec![
            Span::styled("/", Style::default().fg(t.accent).add_modifier(Modifier::BOLD)),
            Span::raw(state.input.clone()),
            Span::styled("▏", Style::default().fg(t.accent)),
        ]),
        Mode::Command => {
            let full = crate::app::actions::complete_command(state, &state.input).unwrap_or_default();
            let hint = full.strip_prefix(state.input.trim_start()).unwrap_or("").to_string();
            Line::from(vec![
                Span::styled(":", Style::default().fg(t.accent).add_modifier(Modifier::BOLD)),
                Span::raw(state.input.clone()),
                Span::styled(hint, Style::default().fg(t.dim)),
                Span::styled("▏", Style::default().fg(t.accent)),
            ])
        }
        Mode::Form => Line::from(Span::styled(
            "tab/↓ next field · shift-tab/↑ previous · space toggles a choice · enter starts · esc cancels",
            Style::default().fg(t.dim),
        )),
        Mode::Confirm => Line::from(Span::styled(
            "y creates what is listed · n or esc: back to the form, nothing created",
            Style::default().fg(t.dim),
        )),
        Mode::Normal => match &state.flash {
            Some(msg) => Line::from(Span::styled(msg.clone(), Style::default().fg(t.warn))),
            None => Line::default(),
        },
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// Cluster, context, API latency, freshness and source errors. Every field says what it
/// knows or why it does not know; nothing is a bare "n/a".
pub fn status_line(state: &State, t: &Theme, frame: &mut Frame, area: Rect) {
    use unicode_width::UnicodeWidthStr;
    let base = Style::default().fg(t.status_fg).bg(t.status_bg);
    // Errors' messages whole when all fits; cut to `MESSAGE_COLS` when not, so what follows
    // an error (another one, the scrape budget) is not cut away.
    let mut spans = status_spans(state, t, usize::MAX);
    if spans.iter().map(|s| s.content.width()).sum::<usize>() > area.width as usize {
        spans = status_spans(state, t, MESSAGE_COLS);
    }
    frame.render_widget(Paragraph::new(fit(spans, area.width)).style(base), area);
}

fn status_spans(state: &State, t: &Theme, message_cols: usize) -> Vec<Span<'static>> {
    let base = Style::default().fg(t.status_fg).bg(t.status_bg);
    let mut spans = Vec::new();
    if let Some(r) = &state.replay {
        let state_mark = if r.paused { "⏸" } else { "▶" };
        spans.push(Span::styled(
            format!(
                " REPLAY {state_mark} {:.1}s/{:.1}s {}x{} from {} ",
                r.position_s,
                r.duration_s,
                r.speed,
                if r.looping { " loop" } else { "" },
                r.source
            ),
            base.fg(t.status_bg).bg(t.accent).add_modifier(Modifier::BOLD),
        ));
    }
    if let Some(r) = &state.recording {
        spans.push(Span::styled(
            format!(" ● REC {} · {} updates ", age(state.now, Some(r.since)), r.entries),
            base.fg(t.status_bg).bg(t.error).add_modifier(Modifier::BOLD),
        ));
    }
    if state.writes == crate::model::access::Writes::Allowed {
        spans.push(Span::styled(
            " writes allowed ",
            base.fg(t.status_bg).bg(t.warn).add_modifier(Modifier::BOLD),
        ));
    }
    match &state.cluster {
        Some(c) => {
            spans.push(Span::styled(
                format!(" ctx {} ", c.context),
                base.add_modifier(Modifier::BOLD),
            ));
            spans.push(Span::styled(format!("· cluster {} · {} ", c.cluster, c.version), base));
        }
        None if state.errors.contains_key(&(Resource::Cluster, None)) => spans.push(Span::styled(
            " not connected ",
            base.fg(t.error).add_modifier(Modifier::BOLD),
        )),
        None => spans.push(Span::styled(" connecting to the API server… ", base.fg(t.warn))),
    }
    // Errors come first after the cluster: they must survive a narrow terminal. A whole
    // source's errors come before the scrape budget, one namespace's or pod's after it.
    let mut scoped = Vec::new();
    if state.errors.is_empty() {
        if state.cluster.is_some() {
            spans.push(Span::styled("· ok ", base.fg(t.ok)));
        }
    } else {
        // An unreachable cluster explains every other failure: show it alone.
        let cluster = state.errors.get(&(Resource::Cluster, None));
        let groups = state.derived.error_groups();
        let shown: Vec<(&Resource, &Option<String>, &crate::app::state::SourceErr, usize)> = match cluster {
            Some(e) => vec![(&Resource::Cluster, &None, e, 1)],
            None => groups
                .iter()
                .take(2)
                .map(|g| (&g.resource, &g.scope, &g.error, g.count))
                .collect(),
        };
        let many = cluster.is_none() && groups.len() > 2;
        for (res, ns, e, count) in shown {
            let scope = match (ns, count) {
                (None, _) => String::new(),
                (Some(n), 1) => format!(" in {n}"),
                (Some(n), _) => format!(" in {n} and {} more", count - 1),
            };
            let text = match (res, e.kind, state.cluster.is_some()) {
                // Connected before and lost: the watches keep their place and resume.
                (Resource::Cluster, ErrorKind::Unreachable, true) => {
                    let since = state.api_answered_at.unwrap_or(e.since);
                    format!(
                        "· reconnecting: no answer since {} ({} ago): {} ",
                        &clock(since)[..8],
                        age(state.now, Some(since)),
                        shorten(&e.message, message_cols)
                    )
                }
                _ => format!(
                    "· {}{scope} {}: {} ",
                    res.as_str(),
                    e.kind.label(),
                    shorten(&e.message, message_cols)
                ),
            };
            let span = Span::styled(text, base.fg(t.error).add_modifier(Modifier::BOLD));
            match ns {
                None => spans.push(span),
                Some(_) => scoped.push(span),
            }
        }
        if many {
            scoped.push(Span::styled(
                format!("· {} source errors in all ", state.errors.len()),
                base.fg(t.error),
            ));
        }
    }
    if state.cluster.is_some()
        && let Some(l) = &state.scrape_load
    {
        let what = match (&l.prometheus, l.silent) {
            (Some(_), _) => ": Prometheus instead".to_string(),
            (None, 0) => format!(", no Prometheus: each scraped every {}s", l.round_s),
            // Those that do not answer sit out, retried at a tenth of the budget's pace.
            (None, s) if s >= l.proxies => ", no Prometheus: none answers, retried slower".to_string(),
            (None, s) => format!(
                ", no Prometheus: {} scraped every {}s, {s} silent retried slower",
                l.proxies - s,
                l.round_s
            ),
        };
        spans.push(Span::styled(
            format!("· {} proxies > scrape budget {}{what} ", l.proxies, l.budget),
            base.fg(t.warn),
        ));
    }
    spans.append(&mut scoped);
    match state.api_latency_ms {
        Some(ms) => spans.push(Span::styled(format!("· API {ms}ms "), base)),
        None => spans.push(Span::styled("· API latency not measured yet ", base.fg(t.dim))),
    }
    if state.cluster.is_none() {
        // Nothing below means anything before the first connection.
        return spans;
    }
    let window = crate::app::traffic::window_label(state.window_s);
    let origin = match &state.traffic_origin {
        Some(crate::app::state::TrafficOrigin::Prometheus { source, .. }) => format!("prometheus {source}"),
        Some(crate::app::state::TrafficOrigin::Scrape) => "proxy scrapes".into(),
        None => "no traffic data yet".into(),
    };
    spans.push(Span::styled(format!("· {window} window, {origin} "), base));
    if let Some((o, _)) = state.usage_origin
        && o != crate::model::UsageOrigin::MetricsServer
    {
        spans.push(Span::styled(format!("· usage from {} ", o.label()), base));
    }
    match state.last_update {
        Some(at) => spans.push(Span::styled(
            format!("· updated {} ago ", age(state.now, Some(at))),
            base,
        )),
        None => spans.push(Span::styled("· no data received yet ", base.fg(t.dim))),
    }
    if let Some(r) = &state.replay {
        spans.push(Span::styled(format!("· {} ", r.provenance), base.fg(t.dim)));
    }
    spans
}

/// Columns an error's message may take on a status line too narrow for all of it.
const MESSAGE_COLS: usize = 72;

/// `text` cut to at most `cols` columns, ending in `…` when cut.
fn shorten(text: &str, cols: usize) -> std::borrow::Cow<'_, str> {
    use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};
    // A panic's message may span lines: one line here, control characters as spaces.
    if text.chars().any(char::is_control) {
        let flat = text
            .split(char::is_control)
            .filter(|s| !s.trim().is_empty())
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ");
        return shorten(&flat, cols).into_owned().into();
    }
    if text.width() <= cols {
        return text.into();
    }
    let mut used = 0;
    let end = text
        .char_indices()
        .find(|&(_, c)| {
            used += c.width().unwrap_or(0);
            used > cols.saturating_sub(1)
        })
        .map_or(text.len(), |(i, _)| i);
    // At a word's end when one is near, so no word is left half.
    let end = match text[..end].rfind(' ') {
        _ if text[end..].starts_with(' ') => end,
        Some(space) if text[space..end].width() <= 16 => space,
        _ => end,
    };
    format!("{}…", text[..end].trim_end()).into()
}

/// The spans that fit in `width` columns; a line that does not fit ends in `…`, so a cut
/// reads as a cut, not as the end of the message.
fn fit(spans: Vec<Span<'static>>, width: u16) -> Line<'static> {
    use unicode_width::UnicodeWidthStr;
    let width = width as usize;
    let total: usize = spans.iter().map(|s| s.content.width()).sum();
    if total <= width || width == 0 {
        return Line::from(spans);
    }
    let mut left = width - 1;
    let mut out = Vec::new();
    let mut last_style = Style::default();
    for s in spans {
        let w = s.content.width();
        last_style = s.style;
        if w <= left {
            left -= w;
            out.push(s);
            continue;
        }
        let mut cut = String::new();
        for c in s.content.chars() {
            let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
            if cw > left {
                break;
            }
            left -= cw;
            cut.push(c);
        }
        if !cut.trim().is_empty() {
            out.push(Span::styled(cut, s.style));
        }
        break;
    }
    // A line cut right after a cut message already ends in one `…`.
    if !out.last().is_some_and(|s| s.content.trim_end().ends_with('…')) {
        out.push(Span::styled("…", last_style));
    }
    Line::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorten_cuts_at_columns_with_an_ellipsis() {
        assert_eq!(shorten("abcdef", 6), "abcdef");
        assert_eq!(shorten("abcdefg", 6), "abcde…");
        assert_eq!(
            shorten("cannot list pods in the namespace", 26),
            "cannot list pods in the…"
        );
        assert_eq!(shorten("ab cdefghijklmnopqrstuvwxyz", 22), "ab cdefghijklmnopqrst…");
        assert_eq!(shorten("日本語テキスト", 6), "日本…");
        assert_eq!(shorten("", 0), "");
        assert_eq!(shorten("ab", 0), "…");
        assert_eq!(shorten("ab cd ef", 6), "ab cd…");
        assert_eq!(
            shorten("assertion failed\n  left: 1\n right: 2", 100),
            "assertion failed left: 1 right: 2"
        );
        assert_eq!(shorten("a\tb\r\n", 10), "a b");
    }
}
