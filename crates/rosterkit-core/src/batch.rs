//! Per-handle results of batched requests: the one place a batch reply is fanned out.

use crate::{Error, ErrorKind};

/// One result slot per input handle, in input order, filled as requests answer.
///
/// A provider that carries several handles in one request answers once for all of them;
/// [`BatchResults::fan_out`] hands that one answer (success or [`Error`], attempts and all) to
/// every handle it answered for. A slot never filled becomes a non-retryable `ServerError`
/// naming the operation, so a bulk run always reports every item.
///
/// ```
/// use rosterkit_core::{BatchResults, Error, ErrorKind, Outcome};
/// let mut results = BatchResults::new(3);
/// results.set(0, Err(Error::invalid_input("not a phone")));
/// results.fan_out([1, 2], &Err(Error::new(ErrorKind::RateLimited, "slow down")));
/// let results = results.finish("demo", "remove_participant");
/// assert_eq!(results.len(), 3);
/// assert!(results.iter().skip(1).all(|r: &Result<Outcome, Error>| {
///     r.as_ref().is_err_and(|e| e.kind() == ErrorKind::RateLimited)
/// }));
/// ```
#[derive(Debug, Clone)]
pub struct BatchResults<T> {
    slots: Vec<Option<Result<T, Error>>>,
}

impl<T: Clone> BatchResults<T> {
    /// `len` empty slots.
    pub fn new(len: usize) -> Self {
        Self {
            slots: (0..len).map(|_| None).collect(),
        }
    }

    /// Fills slot `index` (an index past the end is ignored).
    pub fn set(&mut self, index: usize, result: Result<T, Error>) {
        if let Some(slot) = self.slots.get_mut(index) {
            *slot = Some(result);
        }
    }

    /// Fills every slot in `indices` with `result`.
    pub fn fan_out(&mut self, indices: impl IntoIterator<Item = usize>, result: &Result<T, Error>) {
        for index in indices {
            self.set(index, result.clone());
        }
    }

    /// Whether slot `index` is filled.
    pub fn is_set(&self, index: usize) -> bool {
        self.slots.get(index).is_some_and(Option::is_some)
    }

    /// The results, in input order; an unfilled slot is a non-retryable `ServerError`.
    pub fn finish(self, provider: &'static str, operation: &'static str) -> Vec<Result<T, Error>> {
        self.slots
            .into_iter()
            .map(|slot| {
                slot.unwrap_or_else(|| {
                    Err(
                        Error::new(ErrorKind::ServerError, "no result for this handle")
                            .with_provider(provider)
                            .with_operation(operation)
                            .with_retryable(false)
                            .with_ambiguous(false),
                    )
                })
            })
            .collect()
    }
}
