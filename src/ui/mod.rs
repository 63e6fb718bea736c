//! Views: pure functions from `&State` to a frame. No I/O happens here. The state says
//! which theme was chosen; [`Ui`] holds the themes and resolves the choice.

pub mod bench;
pub mod compare;
pub mod detail;
pub mod help;
pub mod overview;
pub mod stacked;
pub mod status;
pub mod table;
pub mod tap;
pub mod theme;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::Style;
use ratatui::widgets::Block;

use crate::app::{State, View};
use crate::with_table;
use theme::{Colors, Theme};

/// What the views draw with: the themes `T` cycles through, fitted to the terminal.
#[derive(Debug, Clone)]
pub struct Ui {
    themes: Vec<Theme>,
}

impl Ui {
    /// `themes` must not be empty; each is fitted to what the terminal can show.
    pub fn new(themes: Vec<Theme>, colors: Colors) -> Ui {
        let mut themes: Vec<Theme> = themes.into_iter().map(|t| t.for_colors(colors)).collect();
        if themes.is_empty() {
            themes.push(Theme::all_builtin().remove(0).for_colors(colors));
        }
        Ui { themes }
    }

    /// The built-in themes, full colour: tests and benchmarks.
    pub fn builtin() -> Ui {
        Ui::new(Theme::all_builtin(), Colors::True)
    }

    pub fn themes(&self) -> &[Theme] {
        &self.themes
    }

    /// The theme the state chose.
    pub fn theme(&self, state: &State) -> &Theme {
        &self.themes[state.theme.min(self.themes.len() - 1)]
    }

    /// Index of the built-in theme named `name`, for `State::with_themes`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.themes.iter().position(|t| t.name == name)
    }

    /// Draws the whole screen.
    pub fn render(&self, state: &State, frame: &mut Frame) {
        let t = self.theme(state);
        let area = frame.area();
        frame.render_widget(Block::default().style(Style::default().fg(t.fg).bg(t.bg)), area);
        let [header, body, prompt, status_area] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .areas(area);
        status::header(state, t, frame, header);
        match &state.entry().view {
            View::Overview => overview::render(state, t, frame, body),
            View::PodDetail { namespace, name } => detail::render(state, t, frame, body, namespace, name),
            View::Bench => bench::render(state, t, frame, body),
            View::Compare => compare::render(state, t, frame, body),
            View::Tap => tap::render_stream(state, t, frame, body),
            View::TapSummary => tap::render_summary(state, t, frame, body),
            View::TapEvent { seq } => tap::render_event(state, t, frame, body, *seq),
            view => with_table!(view, T => table::render::<T>(state, t, frame, body), _ => {}),
        }
        status::prompt(state, t, frame, prompt);
        status::status_line(state, t, frame, status_area);
        bench::render_form(state, t, frame);
        bench::render_confirm(state, t, frame);
        if state.show_help {
            help::render(state, t, frame, area);
        }
    }
}

/// `label  value` lines: the value wraps under itself at `width` (the whole line's), never
/// under the label.
pub fn labelled(
    label: &str,
    label_width: usize,
    value: &str,
    width: usize,
    label_style: ratatui::style::Style,
    value_style: ratatui::style::Style,
) -> Vec<ratatui::text::Line<'static>> {
    use ratatui::text::{Line, Span};
    hang(value, width.saturating_sub(label_width))
        .into_iter()
        .enumerate()
        .map(|(i, part)| {
            let label = if i == 0 { label } else { "" };
            Line::from(vec![
                Span::styled(format!("{label:<label_width$}"), label_style),
                Span::styled(part, value_style),
            ])
        })
        .collect()
}

/// Splits `text` into lines of at most `width` characters at spaces (a longer word is cut),
/// so values wrap under themselves and never under their labels.
pub fn hang(text: &str, width: usize) -> Vec<String> {
    let width = width.max(8);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let len = line.chars().count();
        if len > 0 && len + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
        while line.chars().count() > width {
            let head: String = line.chars().take(width).collect();
            line = line.chars().skip(width).collect();
            lines.push(head);
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::hang;

    #[test]
    fn values_wrap_at_spaces() {
        assert_eq!(hang("a bb ccc dddd", 8), ["a bb ccc", "dddd"]);
        assert_eq!(hang("", 10), [""]);
        assert_eq!(hang("abcdefghijk", 8), ["abcdefgh", "ijk"]);
    }
}
