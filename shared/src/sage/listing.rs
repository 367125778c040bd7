//! Reading a whole Sage list while it changes underneath: overlapping, anchored pages.
//!
//! Why not simply follow `$next`: Sage pages a list by `page` × `items_per_page` over the
//! *live* result set — no cursor, no snapshot, no upper time bound (see its OpenAPI file).
//! When rows that sort before the page being read disappear (a deletion, a record leaving
//! a filter, a record re-sorting after an update), every later row moves back; rows that
//! cross the page boundary between two requests are never served, and a poll that followed
//! `$next` would advance its watermark past them: lost for good.
//!
//! What this reader guarantees instead. Assume only that Sage serves a list in *some*
//! order that does not change between requests for the records that stay in it. Keep the
//! *prefix*: the records proven to be contiguous from the list's start. A page is
//! *anchored* when it starts at the list's start or contains a record of the prefix;
//! since a page is a contiguous slice, everything that sorts before an anchored page's
//! last record has then been read. Each request therefore starts a few rows *before* the
//! end of what was read (the overlap), so a page is anchored as long as fewer rows than
//! the overlap vanished in between. A page that is not anchored (more rows vanished) is
//! still handed out — its records are real — but the reader then steps back a page at a
//! time until a page is anchored again, and reads forward from there. The list is
//! finished only when an anchored page is its last.
//!
//! What it does not cover, and who does: a record *inserted* during the listing can land
//! on a page already read; it changed after the poll started, so the next poll's window
//! (lower bound = this poll's start − lookback) contains it. Deletions are reported by the
//! `deleted_since` list, read after this one.
//!
//! Cost: a list that fits on one page is one request, as before. A longer one costs
//! about `overlap / page size` more requests (2.5 % at 200 rows and an overlap of 5),
//! plus two or three per burst of vanished rows. To start a page a few rows before the
//! end of what was read, the page size varies between half and all of the configured
//! size: the page number times the page size must land on the wanted row.
//!
//! Each record (by its key) is handed out once per listing, so the overlap never turns
//! into duplicate events.

use super::error::SageError;
use super::paging::{Page, parse_page};
use super::session::SageSession;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// Computes the identity of one version of a listed record (resource, id, change time),
/// or `None` for an item without an id. Two items with the same key are the same version.
pub type ItemKey = Box<dyn Fn(&serde_json::Value) -> Option<u64> + Send + Sync>;

/// The smallest page size the reader uses, whatever the configuration: with pages of one
/// or two rows an overlap would leave no room to move forward.
pub const MIN_PAGE_SIZE: u32 = 10;

/// How many unanchored pages the reader tolerates beyond the anchored ones before it
/// gives up on a list that keeps changing faster than it can be read.
const UNANCHORED_ALLOWANCE: u32 = 20;

/// Counters of one listing, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListingStats {
    /// Requests sent (pages received).
    pub requests: u32,
    /// Pages that were not anchored: rows had vanished before them while the list was
    /// read, and the reader stepped back.
    pub backtracks: u32,
}

/// Reads every record of a list exactly once, safe against rows vanishing between pages.
/// Made by [`SageSession::read_listing`].
pub struct AnchoredListing {
    session: SageSession,
    path: String,
    /// The query without `page` and `items_per_page`.
    query: Vec<(String, String)>,
    max_size: u32,
    min_size: u32,
    overlap: u32,
    key: ItemKey,
    /// Every key handed out in this listing, with whether it belongs to the prefix.
    returned: HashMap<u64, bool>,
    /// The row the next request should start at or just before.
    next_start: u64,
    anchored_pages: u32,
    done: bool,
    stats: ListingStats,
}

impl std::fmt::Debug for AnchoredListing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnchoredListing")
            .field("path", &self.path)
            .field("next_start", &self.next_start)
            .field("done", &self.done)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl SageSession {
    /// Reads the whole list `path` with `query` (its `items_per_page`, if any, is the
    /// largest page asked for; Sage's maximum is 200) as overlapping anchored pages; `key`
    /// identifies a version of a record. Nothing is requested until
    /// [`AnchoredListing::next_page`].
    pub fn read_listing(
        &self,
        path: &str,
        query: &[(String, String)],
        key: ItemKey,
    ) -> AnchoredListing {
        let configured = query
            .iter()
            .find(|(k, _)| k == "items_per_page")
            .and_then(|(_, v)| v.trim().parse::<u32>().ok())
            .unwrap_or(crate::translate::MAX_ITEMS_PER_PAGE);
        let max_size = configured.clamp(
            MIN_PAGE_SIZE,
            crate::translate::MAX_ITEMS_PER_PAGE.max(MIN_PAGE_SIZE),
        );
        AnchoredListing {
            session: self.clone(),
            path: path.to_owned(),
            query: query
                .iter()
                .filter(|(k, _)| k != "page" && k != "items_per_page")
                .cloned()
                .collect(),
            max_size,
            min_size: (max_size / 2).max(MIN_PAGE_SIZE / 2),
            overlap: (max_size / 40).clamp(2, MIN_PAGE_SIZE / 2),
            key,
            returned: HashMap::new(),
            next_start: 0,
            anchored_pages: 0,
            done: false,
            stats: ListingStats::default(),
        }
    }
}

impl AnchoredListing {
    /// The next page of records not handed out before in this listing, or `None` once the
    /// whole list has been read. A page may be empty when all its records had been
    /// handed out already. After an error the same request is tried again if asked.
    pub async fn next_page(&mut self) -> Result<Option<Page>, SageError> {
        if self.done {
            return Ok(None);
        }
        let (page_number, size) = plan_page(self.next_start, self.min_size, self.max_size);
        let mut query = self.query.clone();
        query.push(("page".to_owned(), page_number.to_string()));
        query.push(("items_per_page".to_owned(), size.to_string()));
        let url = self.session.client().api_url(&self.path, &query)?;
        let budget = self.session.client().start_budget();
        let body = self.session.get_url(&budget, &url).await?;
        let (mut page, next) = parse_page(body, url.path())?;
        self.stats.requests += 1;

        // Past the end Sage serves its last page again; `$page` says which one it is.
        let size_served = page
            .items_per_page
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0)
            .unwrap_or(size);
        let start = page.page.unwrap_or(page_number).saturating_sub(1) * u64::from(size_served);
        let keys: Vec<Option<u64>> = page.items.iter().map(|item| (self.key)(item)).collect();
        let anchored = start == 0
            || keys
                .iter()
                .flatten()
                .any(|k| self.returned.get(k) == Some(&true));

        let received = page.items.len() as u64;
        let items = std::mem::take(&mut page.items);
        page.items = items
            .into_iter()
            .zip(keys)
            .filter(|(_, key)| match key {
                // Without an id the caller can only report it; hand it out once.
                None => anchored,
                Some(k) => match self.returned.entry(*k) {
                    Entry::Vacant(slot) => {
                        slot.insert(anchored);
                        true
                    }
                    Entry::Occupied(mut slot) => {
                        *slot.get_mut() |= anchored;
                        false
                    }
                },
            })
            .map(|(item, _)| item)
            .collect();

        if anchored {
            self.anchored_pages += 1;
            if next.is_none() || received < u64::from(size_served) {
                self.done = true;
            } else {
                self.next_start = start + received.saturating_sub(u64::from(self.overlap)).max(1);
            }
        } else {
            self.stats.backtracks += 1;
            if self.stats.backtracks > self.anchored_pages + UNANCHORED_ALLOWANCE {
                self.done = true;
                return Err(SageError::ListKeptChanging {
                    path: self.path.clone(),
                    requests: self.stats.requests,
                });
            }
            // Rows vanished before this page: step back so that the next page ends
            // inside this one, until a page holds part of the prefix again. Below an
            // empty page (the list shrank past it) start from its reported end.
            let from = match page.total {
                Some(total) if received == 0 => total.min(start),
                _ => start,
            };
            self.next_start =
                from.saturating_sub(u64::from(size_served.saturating_sub(self.overlap)));
            tracing::info!(
                path = %self.path,
                start,
                backtracks = self.stats.backtracks,
                "rows vanished before this page while the list was read; reading back to the last anchor"
            );
        }
        Ok(Some(page))
    }

    /// Requests and backtracks so far.
    pub fn stats(&self) -> ListingStats {
        self.stats
    }
}

/// The request that starts closest to, and not after, row `target` (0-based): a page
/// number and a page size between `min` and `max` (larger preferred). Row `target` itself
/// is then on the page, since the start is at most `size − 1` rows before it.
fn plan_page(target: u64, min: u32, max: u32) -> (u64, u32) {
    let mut best: (u64, u32) = (0, max);
    for size in (min.max(1)..=max.max(1)).rev() {
        let start = target / u64::from(size) * u64::from(size);
        if start > best.0 {
            best = (start, size);
        }
        if start == target {
            break;
        }
    }
    (best.0 / u64::from(best.1) + 1, best.1)
}

#[cfg(test)]
mod tests {
    use super::plan_page;

    #[test]
    fn plans_the_page_that_starts_closest_before_the_target() {
        assert_eq!(plan_page(0, 100, 200), (1, 200));
        assert_eq!(plan_page(195, 100, 200), (2, 195));
        assert_eq!(plan_page(390, 100, 200), (3, 195));
        for target in [
            1u64, 7, 99, 100, 101, 199, 200, 385, 1_000, 99_995, 1_000_003,
        ] {
            let (page, size) = plan_page(target, 100, 200);
            let start = (page - 1) * u64::from(size);
            assert!(start <= target, "{target}: start {start}");
            assert!(
                target < start + u64::from(size),
                "{target}: not on the page"
            );
            assert!((100..=200).contains(&size));
            if target >= 200 {
                // Some size in 100..=200 lands within a handful of rows of any target.
                assert!(target - start < 20, "{target}: start {start} size {size}");
            }
        }
    }
}
