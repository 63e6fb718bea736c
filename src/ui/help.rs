//! The help overlay, generated from the key registry so it always matches the keys: the
//! open view's own keys first, then every other key that works there, then the commands.
//! Labels wrap under themselves; when the overlay is taller than the terminal it scrolls.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::theme::Theme;
use crate::app::State;
use crate::app::actions::COMMANDS;

/// Keys and labels never need more than this; wider terminals leave the rest.
const MAX_WIDTH: u16 = 96;

pub fn render(state: &State, t: &Theme, frame: &mut Frame, area: Rect) {
    let groups = state.keymap.help(state.entry().view.kind());
    let commands: Vec<(String, &str)> = COMMANDS
        .iter()
        .map(|(names, what)| (format!(":{}", names.join(" :")), *what))
        .collect();
    let column = |keys: &mut dyn Iterator<Item = usize>| keys.max().unwrap_or(0) + 4;
    let key_width = column(
        &mut groups
            .iter()
            .flat_map(|(_, rows)| rows.iter().map(|(k, _)| k.chars().count())),
    );
    let command_width = column(&mut commands.iter().map(|(k, _)| k.chars().count()));
    let width = area.width.min(MAX_WIDTH);
    let head = |s: &str| {
        Line::from(Span::styled(
            s.to_uppercase(),
            Style::default().fg(t.title).add_modifier(Modifier::BOLD),
        ))
    };
    let mut lines = Vec::new();
    // Borders and the key column; the label takes the rest and wraps under itself.
    let row = |lines: &mut Vec<Line<'static>>, keys: &str, label: &str, key_width: usize| {
        let label_width = (width as usize).saturating_sub(key_width + 2);
        for (i, part) in super::hang(label, label_width).into_iter().enumerate() {
            let keys = if i == 0 { keys } else { "" };
            lines.push(Line::from(vec![
                Span::styled(
                    format!("  {keys:<w$}", w = key_width - 2),
                    Style::default().fg(t.help_key),
                ),
                Span::raw(part),
            ]));
        }
    };
    for (group, rows) in &groups {
        lines.push(head(group));
        for (keys, label) in rows {
            row(&mut lines, keys, label, key_width);
        }
        lines.push(Line::default());
    }
    lines.push(head("commands"));
    for (names, what) in &commands {
        row(&mut lines, names, what, command_width);
    }
    let inner = area.height.saturating_sub(2) as usize;
    let scrollable = lines.len() > inner;
    let offset = state.help_scroll.get().min(lines.len().saturating_sub(inner));
    state.help_scroll.set(offset);
    let height = (lines.len() as u16 + 2).min(area.height);
    let [popup] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(popup);
    frame.render_widget(Clear, popup);
    let title = if scrollable {
        format!(
            " help · ↑↓ pgup pgdn scroll ({}-{} of {}) · other keys close ",
            offset + 1,
            (offset + inner).min(lines.len()),
            lines.len()
        )
    } else {
        " help · any key closes ".to_string()
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(Style::default().fg(t.accent))
        .title(title)
        .style(Style::default().fg(t.fg).bg(t.bg));
    let shown: Vec<Line> = lines.into_iter().skip(offset).collect();
    frame.render_widget(Paragraph::new(shown).block(block), popup);
}
