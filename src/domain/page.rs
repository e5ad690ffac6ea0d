//! Page-number pagination as Label Studio does it: `page` from 1, `page_size` up to 1000.

use crate::error::FieldError;

pub const DEFAULT_PAGE_SIZE: u64 = 20;
pub const MAX_PAGE_SIZE: u64 = 1000;

/// A validated page request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u64,
    pub page_size: u64,
}

impl Default for PageRequest {
    fn default() -> PageRequest {
        PageRequest {
            page: 1,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

impl PageRequest {
    /// Checks `page` and `page_size`, adding a field error for each bad one.
    pub fn parse(
        page: Option<u64>,
        page_size: Option<u64>,
        errors: &mut Vec<FieldError>,
    ) -> PageRequest {
        let page = page.unwrap_or(1);
        if page == 0 || page > i64::MAX as u64 {
            errors.push(FieldError::new(
                "/query/page",
                "out_of_range",
                format!("pages are 1 to {}", i64::MAX),
            ));
        }
        let page_size = page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
            errors.push(FieldError::new(
                "/query/page_size",
                "out_of_range",
                format!("must be 1 to {MAX_PAGE_SIZE}"),
            ));
        }
        PageRequest { page, page_size }
    }

    /// Rows to skip; at most `i64::MAX`, the largest OFFSET a database takes (a page that far
    /// is simply empty).
    pub fn offset(self) -> u64 {
        (self.page.max(1) - 1)
            .saturating_mul(self.page_size)
            .min(i64::MAX as u64)
    }

    /// Whether rows remain after this page, out of `count`.
    pub fn has_next(self, count: u64) -> bool {
        self.page.saturating_mul(self.page_size) < count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_start_at_one_and_sizes_stop_at_a_thousand() {
        let mut errors = Vec::new();
        let page = PageRequest::parse(Some(3), Some(20), &mut errors);
        assert!(errors.is_empty());
        assert_eq!(
            (page.offset(), page.has_next(61), page.has_next(60)),
            (40, true, false)
        );
        let far = PageRequest::parse(Some(i64::MAX as u64), Some(1000), &mut errors);
        assert!(errors.is_empty());
        assert_eq!(far.offset(), i64::MAX as u64);
        PageRequest::parse(Some(0), Some(1001), &mut errors);
        let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(pointers, ["/query/page", "/query/page_size"]);
    }
}
