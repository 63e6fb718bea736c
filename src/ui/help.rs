//! The help overlay, generated from the key registry so it always matches the keys.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::theme::Theme;
use crate::app::State;
use crate::app::actions::COMMANDS;

pub fn render(state: &State, t: &Theme, frame: &mut Frame, area: Rect) {
    let mut lines = Vec::new();
    for (group, rows) in state.keymap.help(state.entry().view.kind()) {
        lines.push(Line::from(Span::styled(
            group.to_uppercase(),
            Style::default().fg(t.title).add_modifier(Modifier::BOLD),
        )));
        for (keys, label) in rows {
            lines.push(Line::from(vec![
                Span::styled(format!("  {keys:<28}"), Style::default().fg(t.help_key)),
                Span::raw(label),
            ]));
        }
        lines.push(Line::default());
    }
    lines.push(Line::from(Span::styled(
        "COMMANDS",
        Style::default().fg(t.title).add_modifier(Modifier::BOLD),
    )));
    for (names, what) in COMMANDS {
        lines.push(Line::from(vec![
            Span::styled(format!("  :{:<27}", names.join(" :")), Style::default().fg(t.help_key)),
            Span::raw(*what),
        ]));
    }
    let height = (lines.len() as u16 + 2).min(area.height);
    let [popup] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(64.min(area.width))])
        .flex(Flex::Center)
        .areas(popup);
    frame.render_widget(Clear, popup);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(Style::default().fg(t.accent))
        .title(" help · any key closes ")
        .style(Style::default().fg(t.fg).bg(t.bg));
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
