//! The tap stream: one row per request, newest first, with the post-filters of
//! [`crate::tap::TapFilter`] as its `/` filter.

use std::borrow::Cow;

use super::{Column, RowFilter, SortKey, Table, Tone, Width};
use crate::app::format;
use crate::app::state::{State, View};
use crate::app::tap::TapEntry;
use crate::model::tap::Direction;
use crate::tap::TapFilter;

pub struct Tap;

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("-")
}

/// `GET`, or `TCP` for a TCP entry of an access log.
pub fn method(e: &TapEntry) -> &str {
    e.event.method.as_deref().unwrap_or("TCP")
}

/// The status, or why there is none.
pub fn status(e: &TapEntry) -> String {
    match (e.event.status, &e.event.error) {
        (Some(s), _) => s.to_string(),
        (None, Some(_)) => "error".into(),
        (None, None) if e.event.method.is_none() => "-".into(),
        (None, None) => "none".into(),
    }
}

static COLUMNS: &[Column<TapEntry>] = &[
    Column {
        // Newest first, by when the request started as its source stamps it (an access log's
        // START_TIME on the node's clock, meshtop's clock for Linkerd tap and bench samples),
        // never later than it arrived, so a skewed or future-dated line cannot stay on top.
        // Sources hand events on in batches, a slow request's after quicker later ones; ties
        // keep the rows' own order, newest arrival first.
        sort: Some(|e| SortKey::Int(u128::from(u64::MAX - e.event.time.min(e.at).max(0) as u64))),
        descending: true,
        ..Column::new("TIME (UTC)", |_, e| format::clock(e.event.time))
    },
    Column {
        sort: Some(|e| SortKey::Text(e.event.direction.map_or("-", |d| d.as_str()))),
        ..Column::new("DIR", |_, e| Direction::short(e.event.direction).into())
    },
    Column {
        drop: 3,
        sort: Some(|e| SortKey::Text(&e.event.source)),
        filter: Some((&["src"], |e| Cow::Borrowed(&e.event.source))),
        ..Column::new("SOURCE", |_, e| e.event.source.clone())
    },
    Column {
        drop: 2,
        sort: Some(|e| SortKey::Text(&e.event.destination)),
        filter: Some((&["dst"], |e| Cow::Borrowed(&e.event.destination))),
        ..Column::new("DESTINATION", |_, e| e.event.destination.clone())
    },
    Column {
        sort: Some(|e| SortKey::Text(method(e))),
        ..Column::new("METHOD", |_, e| method(e).to_string())
    },
    Column {
        width: Width::Fill,
        sort: Some(|e| SortKey::Text(e.event.path.as_deref().unwrap_or("-"))),
        ..Column::new("AUTHORITY/PATH", |_, e| e.event.target())
    },
    Column {
        sort: Some(|e| SortKey::Int(e.event.status.map_or(1000, u128::from))),
        ..Column::new("STATUS", |_, e| status(e))
    },
    Column {
        sort: Some(|e| SortKey::num(e.event.duration_ms)),
        ..Column::new("LATENCY", |_, e| {
            e.event.duration_ms.map_or_else(|| "-".into(), format::fine_millis)
        })
    },
    Column {
        drop: 4,
        sort: Some(|e| SortKey::Int(u128::from(e.event.bytes_sent.unwrap_or(0)))),
        ..Column::new("BYTES", |_, e| {
            e.event.bytes_sent.map_or_else(|| "-".into(), format::bytes)
        })
    },
    Column {
        drop: 5,
        sort: Some(|e| SortKey::Text(opt(&e.event.response_flags))),
        ..Column::new("FLAGS", |_, e| opt(&e.event.response_flags).to_string())
    },
];

impl Table for Tap {
    type Row = TapEntry;
    type Key = u64;
    const PRESORTED: bool = false;

    fn columns() -> &'static [Column<TapEntry>] {
        COLUMNS
    }
    fn all(state: &State) -> Box<dyn Iterator<Item = &TapEntry> + '_> {
        Box::new(state.tap.shown())
    }
    fn key(e: &TapEntry) -> u64 {
        e.seq
    }
    fn get<'a>(state: &'a State, seq: &u64) -> Option<&'a TapEntry> {
        state.tap.get(*seq)
    }
    fn generation(state: &State) -> u64 {
        state.tap.generation
    }
    fn own_filter(text: &str) -> Option<RowFilter<TapEntry>> {
        // A filter that does not parse lets nothing through; the view says why.
        Some(match TapFilter::parse(text) {
            Ok(f) => Box::new(move |e: &TapEntry| f.matches(&e.event)),
            Err(_) => Box::new(|_: &TapEntry| false),
        })
    }
    fn open(e: &TapEntry) -> Option<(View, String)> {
        Some((View::TapEvent { seq: e.seq }, String::new()))
    }
    fn tone(_: &State, e: &TapEntry) -> Option<Tone> {
        (!e.event.success()).then_some(Tone::Error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::state::ViewEntry;
    use crate::app::{Keymap, table};
    use crate::model::tap::{TapEvent, TapOrigin};

    fn times(state: &State, entry: &ViewEntry) -> Vec<i64> {
        table::rows::<Tap>(state, entry)
            .all()
            .iter()
            .map(|e| e.event.time)
            .collect()
    }

    #[test]
    fn newest_request_first_whatever_the_arrival_order() {
        let mut state = State::new(Keymap::default());
        let ev = |t| TapEvent::new(t, TapOrigin::Logs, "a".into(), "b".into());
        // A slow request's line comes after a quicker later one; one line is future-dated
        // (node clock ahead): it counts as arriving, not as its stamp.
        state.tap.push(vec![ev(100)], 1_000);
        state.tap.push(vec![ev(50)], 1_000);
        state.tap.push(vec![ev(200), ev(9_999)], 1_000);
        state.tap.push(vec![ev(1_500)], 2_000);
        let mut entry = ViewEntry::new(crate::app::View::Tap);
        assert_eq!(times(&state, &entry), [1_500, 9_999, 200, 100, 50]);
        entry.sort_reverse = true;
        assert_eq!(times(&state, &entry), [50, 100, 200, 9_999, 1_500]);
    }
}
