//! Export to asciicast v2, the screen-level format asciinema plays, for sharing a session
//! with people who do not run meshtop.
//!
//! The file is a header line `{"version": 2, "width", "height", "timestamp", "title", "env"}`
//! and then events `[seconds, "o", text]` (output to the terminal), `[seconds, "m", name]`
//! (a marker) and `[seconds, "r", "WxH"]` (a resize). Each rendered frame becomes one output
//! event: the first clears the screen and draws every cell, later ones redraw only the cells
//! that changed.

use std::fmt::Write as _;
use std::io::Write;

use color_eyre::eyre::{Result, WrapErr};
use ratatui::buffer::{Buffer, Cell, CellDiffOption, CellWidth};
use ratatui::style::{Color, Modifier};
use serde::Serialize;

/// What the header says beyond the size.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CastMeta {
    pub title: Option<String>,
    /// When it was recorded, in Unix seconds.
    pub timestamp: Option<i64>,
}

#[derive(Serialize)]
struct CastHeader<'a> {
    version: u8,
    width: u16,
    height: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    env: CastEnv,
}

#[derive(Serialize)]
struct CastEnv {
    #[serde(rename = "TERM")]
    term: &'static str,
    #[serde(rename = "SHELL")]
    shell: &'static str,
}

/// Writes a cast event by event.
pub struct CastWriter<W: Write> {
    out: W,
    shown: Option<Buffer>,
    last_seconds: f64,
}

impl<W: Write> CastWriter<W> {
    /// Writes the header for a terminal of `width` × `height`.
    pub fn new(mut out: W, width: u16, height: u16, meta: &CastMeta) -> Result<CastWriter<W>> {
        let header = CastHeader {
            version: 2,
            width,
            height,
            timestamp: meta.timestamp,
            title: meta.title.as_deref(),
            env: CastEnv {
                term: "xterm-256color",
                shell: "/bin/sh",
            },
        };
        serde_json::to_writer(&mut out, &header).wrap_err("writing the cast header")?;
        out.write_all(b"\n").wrap_err("writing the cast header")?;
        Ok(CastWriter {
            out,
            shown: None,
            last_seconds: 0.0,
        })
    }

    /// A rendered frame at `seconds` from the start. A frame of another size is announced with a
    /// resize event and drawn whole.
    pub fn frame(&mut self, seconds: f64, frame: &Buffer) -> Result<()> {
        let resized = self.shown.as_ref().is_some_and(|s| s.area != frame.area);
        if resized {
            let size = format!("{}x{}", frame.area.width, frame.area.height);
            self.event(seconds, "r", &size)?;
        }
        let prev = self.shown.as_ref().filter(|_| !resized);
        let text = draw(prev, frame);
        if !text.is_empty() {
            self.event(seconds, "o", &text)?;
        }
        self.shown = Some(frame.clone());
        Ok(())
    }

    pub fn marker(&mut self, seconds: f64, name: &str) -> Result<()> {
        self.event(seconds, "m", name)
    }

    pub fn finish(mut self) -> Result<W> {
        self.out.flush().wrap_err("writing the cast")?;
        Ok(self.out)
    }

    fn event(&mut self, seconds: f64, code: &str, data: &str) -> Result<()> {
        // Players want times that never go back; microseconds are plenty.
        let t = (seconds.max(self.last_seconds) * 1e6).round() / 1e6;
        self.last_seconds = t;
        serde_json::to_writer(&mut self.out, &(t, code, data)).wrap_err("writing a cast event")?;
        self.out.write_all(b"\n").wrap_err("writing a cast event")
    }
}

/// A whole cast: the frames in time order, and markers placed among them by time. The size is
/// the first frame's.
pub fn write_cast<W: Write>(
    out: W,
    meta: &CastMeta,
    frames: impl IntoIterator<Item = (f64, Buffer)>,
    markers: &[(f64, String)],
) -> Result<W> {
    let mut frames = frames.into_iter().peekable();
    let (width, height) = frames.peek().map_or((80, 24), |(_, b)| (b.area.width, b.area.height));
    let mut cast = CastWriter::new(out, width, height, meta)?;
    let mut markers = markers.iter().peekable();
    for (seconds, frame) in frames {
        while let Some((t, name)) = markers.next_if(|(t, _)| *t <= seconds) {
            cast.marker(*t, name)?;
        }
        cast.frame(seconds, &frame)?;
    }
    for (t, name) in markers {
        cast.marker(*t, name)?;
    }
    cast.finish()
}

/// The ANSI text that turns a terminal showing `prev` into one showing `next`; with no `prev`
/// (or another size), it clears the screen and draws every cell. The cursor is hidden, and
/// attributes are reset at the end.
pub fn draw(prev: Option<&Buffer>, next: &Buffer) -> String {
    let mut out = String::new();
    let same_size = prev.filter(|p| p.area == next.area);
    let blank;
    let every_cell;
    let (from, to) = match same_size {
        Some(p) => (p, next),
        None => {
            out.push_str("\x1b[?25l\x1b[0m\x1b[2J");
            // ratatui's own diff, told to emit every cell, so wide characters are handled as
            // its terminal backends handle them.
            let mut all = next.clone();
            for cell in &mut all.content {
                if cell.diff_option == CellDiffOption::None {
                    cell.diff_option = CellDiffOption::AlwaysUpdate;
                }
            }
            blank = Buffer::empty(next.area);
            every_cell = all;
            (&blank, &every_cell)
        }
    };
    let mut cursor = None;
    let mut style = Sgr::default();
    for (x, y, cell) in from.diff(to) {
        if cursor != Some((x, y)) {
            let _ = write!(out, "\x1b[{};{}H", y - next.area.y + 1, x - next.area.x + 1);
        }
        let sgr = Sgr::of(cell);
        if sgr != style {
            sgr.write(&mut out);
            style = sgr;
        }
        // Cell text came from data (pod names, messages): never let it carry escapes.
        out.extend(cell.symbol().chars().map(|c| if c.is_control() { '?' } else { c }));
        cursor = Some((x.saturating_add(cell.cell_width().max(1)), y));
    }
    if style != Sgr::default() {
        out.push_str("\x1b[0m");
    }
    out
}

/// The attributes a cell is drawn with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sgr {
    fg: Color,
    bg: Color,
    modifier: Modifier,
}

impl Default for Sgr {
    fn default() -> Self {
        Sgr {
            fg: Color::Reset,
            bg: Color::Reset,
            modifier: Modifier::empty(),
        }
    }
}

const MODIFIER_CODES: [(Modifier, u8); 9] = [
    (Modifier::BOLD, 1),
    (Modifier::DIM, 2),
    (Modifier::ITALIC, 3),
    (Modifier::UNDERLINED, 4),
    (Modifier::SLOW_BLINK, 5),
    (Modifier::RAPID_BLINK, 6),
    (Modifier::REVERSED, 7),
    (Modifier::HIDDEN, 8),
    (Modifier::CROSSED_OUT, 9),
];

impl Sgr {
    fn of(cell: &Cell) -> Sgr {
        Sgr {
            fg: cell.fg,
            bg: cell.bg,
            modifier: cell.modifier,
        }
    }

    /// One sequence that starts from a reset, so it never depends on what came before.
    fn write(self, out: &mut String) {
        out.push_str("\x1b[0");
        for (m, code) in MODIFIER_CODES {
            if self.modifier.contains(m) {
                let _ = write!(out, ";{code}");
            }
        }
        color(out, self.fg, 30);
        color(out, self.bg, 40);
        out.push('m');
    }
}

/// `base` is 30 for foreground, 40 for background.
fn color(out: &mut String, c: Color, base: u8) {
    let named = |n: u8| Some(base + n);
    let bright = |n: u8| Some(base + 60 + n);
    let code = match c {
        Color::Reset => None,
        Color::Black => named(0),
        Color::Red => named(1),
        Color::Green => named(2),
        Color::Yellow => named(3),
        Color::Blue => named(4),
        Color::Magenta => named(5),
        Color::Cyan => named(6),
        Color::Gray => named(7),
        Color::DarkGray => bright(0),
        Color::LightRed => bright(1),
        Color::LightGreen => bright(2),
        Color::LightYellow => bright(3),
        Color::LightBlue => bright(4),
        Color::LightMagenta => bright(5),
        Color::LightCyan => bright(6),
        Color::White => bright(7),
        Color::Indexed(i) => {
            let _ = write!(out, ";{};5;{i}", base + 8);
            None
        }
        Color::Rgb(r, g, b) => {
            let _ = write!(out, ";{};2;{r};{g};{b}", base + 8);
            None
        }
    };
    if let Some(code) = code {
        let _ = write!(out, ";{code}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::layout::Rect;
    use ratatui::style::Style;

    fn buffer(rows: [&str; 2]) -> Buffer {
        Buffer::with_lines(rows)
    }

    #[test]
    fn first_frame_clears_and_draws_every_cell() {
        let mut b = buffer(["ab ", "  c"]);
        b[(0, 0)].set_style(Style::new().fg(Color::Red).add_modifier(Modifier::BOLD));
        b[(2, 1)].set_style(Style::new().bg(Color::Indexed(17)).add_modifier(Modifier::ITALIC));
        assert_eq!(
            draw(None, &b),
            "\x1b[?25l\x1b[0m\x1b[2J\x1b[1;1H\x1b[0;1;31ma\x1b[0mb \x1b[2;1H  \x1b[0;3;48;5;17mc\x1b[0m"
        );
    }

    #[test]
    fn later_frames_redraw_only_changed_cells() {
        let prev = buffer(["ab ", "  c"]);
        let mut next = buffer(["xb ", "  c"]);
        next[(1, 1)].set_symbol("y").set_style(
            Style::new()
                .fg(Color::Rgb(1, 2, 3))
                .add_modifier(Modifier::UNDERLINED | Modifier::REVERSED),
        );
        next[(2, 1)].set_style(Style::new().fg(Color::LightCyan).add_modifier(Modifier::DIM));
        assert_eq!(
            draw(Some(&prev), &next),
            "\x1b[1;1Hx\x1b[2;2H\x1b[0;4;7;38;2;1;2;3my\x1b[0;2;96mc\x1b[0m"
        );
        assert_eq!(draw(Some(&next), &next), "", "nothing changed");
    }

    #[test]
    fn wide_characters_move_the_cursor_two_columns() {
        let prev = buffer(["abc", "   "]);
        let next = buffer(["日c", "   "]);
        assert_eq!(draw(Some(&prev), &next), "\x1b[1;1H日");
        let next2 = buffer(["日d", "   "]);
        assert_eq!(draw(Some(&next), &next2), "\x1b[1;3Hd");
    }

    #[test]
    fn escapes_in_cell_text_are_neutralised() {
        let prev = Buffer::empty(Rect::new(0, 0, 3, 2));
        let mut next = prev.clone();
        next[(0, 0)].set_symbol("\x1b]");
        assert_eq!(draw(Some(&prev), &next), "\x1b[1;1H?]");
    }

    #[test]
    fn cast_file_is_json_lines_in_asciicast_v2() {
        let a = buffer(["ab ", "  c"]);
        let b = buffer(["xb ", "  c"]);
        let wide = Buffer::with_lines(["wide"]);
        let meta = CastMeta {
            title: Some("meshtop demo".into()),
            timestamp: Some(1_700_000_000),
        };
        let frames = vec![(0.0, a.clone()), (0.5, a), (1.25, b), (2.0, wide)];
        let bytes = write_cast(
            Vec::new(),
            &meta,
            frames,
            &[(1.0, "failover".into()), (9.0, "end".into())],
        )
        .unwrap();
        let lines: Vec<serde_json::Value> = String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            lines[0],
            serde_json::json!({"version": 2, "width": 3, "height": 2, "timestamp": 1_700_000_000,
                "title": "meshtop demo", "env": {"TERM": "xterm-256color", "SHELL": "/bin/sh"}})
        );
        let events: Vec<(f64, String)> = lines[1..]
            .iter()
            .map(|e| (e[0].as_f64().unwrap(), e[1].as_str().unwrap().to_string()))
            .collect();
        let kinds: Vec<(f64, &str)> = events.iter().map(|(t, k)| (*t, k.as_str())).collect();
        assert_eq!(
            kinds,
            [(0.0, "o"), (1.0, "m"), (1.25, "o"), (2.0, "r"), (2.0, "o"), (9.0, "m")],
            "an unchanged frame writes nothing"
        );
        assert_eq!(lines[3][2], "\x1b[1;1Hx");
        assert_eq!(lines[4][2], "4x1");
        assert_eq!(lines[6][2], "end");
    }
}
