//! Views: pure functions from `&State` to a frame. No I/O happens here.

pub mod bench;
pub mod detail;
pub mod format;
pub mod help;
pub mod overview;
pub mod stacked;
pub mod status;
pub mod table;
pub mod theme;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::Style;
use ratatui::widgets::Block;

use crate::app::{State, View};

/// Draws the whole screen.
pub fn render(state: &State, frame: &mut Frame) {
    let theme = state.theme();
    let area = frame.area();
    frame.render_widget(Block::default().style(Style::default().fg(theme.fg).bg(theme.bg)), area);
    let [header, body, prompt, status_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    status::header(state, frame, header);
    match &state.entry().view {
        View::Overview => overview::render(state, frame, body),
        View::PodDetail { namespace, name } => detail::render(state, frame, body, namespace, name),
        View::Bench => bench::render(state, frame, body),
        _ => table::render(state, frame, body),
    }
    status::prompt(state, frame, prompt);
    status::status_line(state, frame, status_area);
    bench::render_form(state, frame);
    if state.show_help {
        help::render(state, frame, area);
    }
}
