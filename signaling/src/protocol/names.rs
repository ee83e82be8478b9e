//! Wire names read back from the serde derive itself, so that no list of them is kept by
//! hand: the `type`s a page may send, the names of `control.action` and of error codes.
//!
//! Asked to deserialize a name no variant has, the code serde derives answers with
//! `de::Error::unknown_variant(name, VARIANTS)`, where `VARIANTS` is every wire name of
//! the enum, after `rename_all`, in declaration order. An error type of our own keeps
//! that list. The unit tests check each list against the enum's own serialisation.

use serde::de::value::{MapDeserializer, StrDeserializer};
use serde::de::{self, DeserializeOwned, IntoDeserializer};
use std::fmt;

/// No variant is named by the empty string.
const NO_NAME: &str = "";

/// What deserializing [`NO_NAME`] came to: the names the enum expected, or anything else
/// (an enum not of the shape asked for).
#[derive(Debug)]
enum Probe {
    Names(&'static [&'static str]),
    Other(String),
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Probe::Names(names) => write!(f, "expected one of {names:?}"),
            Probe::Other(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Probe {}

impl de::Error for Probe {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Probe::Other(message.to_string())
    }

    fn unknown_variant(_variant: &str, expected: &'static [&'static str]) -> Self {
        Probe::Names(expected)
    }
}

fn names<T>(probed: Result<T, Probe>) -> &'static [&'static str] {
    match probed {
        Err(Probe::Names(names)) => names,
        // Not an enum of the shape asked for: no names (the unit tests fail at once).
        _ => &[],
    }
}

/// The wire names of an internally tagged enum (`#[serde(tag = "…")]`), e.g. the
/// `type`s of [`ClientMessage`](super::ClientMessage), in declaration order.
pub(crate) fn tagged<T: DeserializeOwned>(tag: &'static str) -> &'static [&'static str] {
    let object = MapDeserializer::<_, Probe>::new(std::iter::once((tag, NO_NAME)));
    names(T::deserialize(object))
}

/// The wire names of an enum of unit variants serialised as strings (e.g.
/// [`Action`](super::Action)), in declaration order: index `variant as usize`.
pub(crate) fn plain<T: DeserializeOwned>() -> &'static [&'static str] {
    let string: StrDeserializer<'_, Probe> = NO_NAME.into_deserializer();
    names(T::deserialize(string))
}

#[cfg(test)]
mod tests;
