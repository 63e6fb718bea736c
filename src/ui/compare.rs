//! The Compare view (8): the verdict lines to paste, what was not run alike, and the
//! marked runs each against the first.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::theme::Theme;
use crate::app::State;
use crate::app::table::{self, compare::Compare};

pub fn render(state: &State, t: &Theme, frame: &mut Frame, area: Rect) {
    let c = &state.comparison;
    let mut lines: Vec<Line> = Vec::new();
    for v in &c.verdicts {
        lines.push(Line::from(Span::styled(
            v.clone(),
            Style::default().fg(t.title).add_modifier(Modifier::BOLD),
        )));
    }
    for d in &c.differences {
        lines.push(Line::from(vec![
            Span::styled("not run alike: ", Style::default().fg(t.warn)),
            Span::styled(d.clone(), Style::default().fg(t.fg)),
        ]));
    }
    if let Some(n) = &c.note {
        lines.push(Line::from(Span::styled(n.clone(), Style::default().fg(t.dim))));
    }
    // Each line may wrap once on a narrow terminal; the table keeps at least 5 rows.
    let wanted = lines
        .iter()
        .map(|l| (l.width() as u16).div_ceil(area.width.max(1)).max(1))
        .sum::<u16>()
        .min(area.height.saturating_sub(5));
    let [top, body] = Layout::vertical([Constraint::Length(wanted), Constraint::Min(3)]).areas(area);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), top);
    let entry = state.entry();
    let rows = table::rows::<Compare>(state, entry);
    let empty = rows.is_empty().then(|| {
        if entry.filter.is_empty() {
            " mark two finished runs with c in the bench view (7) ".to_string()
        } else {
            " nothing matches the filter (esc clears it) ".to_string()
        }
    });
    super::table::draw::<Compare>(state, t, frame, body, &rows, entry, "compare", empty);
}
