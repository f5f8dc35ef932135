//! When a term is in force on a path: `starts_on` and `ends_on` events, which every term kind
//! accepts.

use crate::sampling::world::WorldPath;
use crate::scenario::EventId;

/// The events that start and end a term. A term that `starts_on` an event is in force from the
/// period after the one it occurs in, and never where it does not occur; one that `ends_on` an
/// event does nothing after the period it occurs in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Activation {
    pub starts_on: Option<EventId>,
    pub ends_on: Option<EventId>,
}

impl Activation {
    /// Whether either event is set.
    pub fn is_contingent(self) -> bool {
        self.starts_on.is_some() || self.ends_on.is_some()
    }

    /// The first and last period the term is in force on this path, or None where it never is.
    #[inline]
    pub fn periods(self, world: &WorldPath) -> Option<(usize, usize)> {
        let first = match self.starts_on {
            Some(event) => world.event_period[event]? + 1,
            None => 0,
        };
        let last = self.ends_on.and_then(|event| world.event_period[event]).unwrap_or(world.periods - 1);
        (first <= last).then_some((first, last))
    }

    /// The part of `first..=last` in force on this path.
    #[inline]
    pub fn within(self, world: &WorldPath, first: usize, last: usize) -> Option<(usize, usize)> {
        let (start, end) = self.periods(world)?;
        let (first, last) = (first.max(start), last.min(end));
        (first <= last).then_some((first, last))
    }

    /// The events it names, for `validate`.
    pub fn describe(self, event: impl Fn(EventId) -> String) -> String {
        let mut text = String::new();
        if let Some(id) = self.starts_on {
            text.push_str(&format!(", from the period after {}", event(id)));
        }
        if let Some(id) = self.ends_on {
            text.push_str(&format!(", until {}", event(id)));
        }
        text
    }
}
