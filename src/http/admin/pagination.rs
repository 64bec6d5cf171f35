//! Cursor pagination: `limit` (1–200, default 50) and an opaque `cursor` in the query, the
//! next page as a `next` link in the body and a `Link: <…>; rel="next"` header (RFC 8288).
//! Any other query parameter than the list's own filters is a 422.

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use serde::Serialize;

use super::negotiate::Format;
use super::problem::ApiError;
use crate::admin::{AdminError, FieldError, Page, PageRequest};

/// The query of a list request, checked: the page wanted and the filters given.
#[derive(Debug)]
pub struct ListQuery {
    pub page: PageRequest,
    path: &'static str,
    filters: Vec<(&'static str, String)>,
}

impl ListQuery {
    /// Parses `query` for the list at `path`, which takes the `optional` and `required`
    /// filters besides `limit` and `cursor`. Every problem is reported at once.
    pub fn parse(
        query: &str,
        path: &'static str,
        optional: &[&'static str],
        required: &[&'static str],
    ) -> Result<Self, ApiError> {
        let mut errors = Vec::new();
        let mut problem = |field: &str, text: &str| {
            errors.push(FieldError {
                field: field.to_owned(),
                problem: text.to_owned(),
            });
        };
        let (mut limit, mut cursor, mut filters) = (None, None, Vec::new());
        let mut seen: Vec<String> = Vec::new();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            if seen.contains(&name.to_string()) {
                problem(&name, "is given more than once");
                continue;
            }
            seen.push(name.to_string());
            match name.as_ref() {
                "limit" => match value.parse::<u32>() {
                    Ok(n) => limit = Some(n),
                    Err(_) => problem("limit", "must be 1 to 200"),
                },
                "cursor" => cursor = Some(value.into_owned()),
                other => match optional.iter().chain(required).find(|f| **f == other) {
                    Some(filter) => filters.push((*filter, value.into_owned())),
                    None => problem(other, "is not a parameter of this list"),
                },
            }
        }
        for name in required {
            if !filters.iter().any(|(f, _)| f == name) {
                problem(name, "is required");
            }
        }
        let page = match PageRequest::parse(limit, cursor.as_deref()) {
            Ok(page) => Some(page),
            Err(AdminError::Invalid(more)) => {
                errors.extend(more);
                None
            }
            Err(other) => return Err(other.into()),
        };
        match page {
            Some(page) if errors.is_empty() => Ok(Self {
                page,
                path,
                filters,
            }),
            _ => Err(ApiError::Invalid(errors)),
        }
    }

    /// The value of a filter, if given.
    pub fn filter(&self, name: &str) -> Option<&str> {
        self.filters
            .iter()
            .find(|(f, _)| *f == name)
            .map(|(_, v)| v.as_str())
    }

    /// The link to the page after `cursor`, with the same limit and filters.
    fn link_after(&self, cursor: &str) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("limit", &self.page.limit.to_string());
        query.append_pair("cursor", cursor);
        for (name, value) in &self.filters {
            query.append_pair(name, value);
        }
        format!("{}?{}", self.path, query.finish())
    }
}

/// A 422 naming each query parameter of a request that takes none.
pub fn reject_query(query: &str) -> Result<(), ApiError> {
    let errors: Vec<FieldError> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(name, _)| FieldError {
            field: name.into_owned(),
            problem: "is not a parameter of this resource".into(),
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Invalid(errors))
    }
}

#[derive(Serialize)]
struct PageBody<T> {
    items: Vec<T>,
    next: Option<String>,
}

/// `{"items": [...], "next": "/v1/...?cursor=..."}` with the `Link` header on every page but
/// the last.
pub fn page_response<T: Serialize>(
    format: Format,
    query: &ListQuery,
    page: Page<T>,
) -> Result<HttpResponse, ApiError> {
    let next = page.next.map(|cursor| query.link_after(&cursor.encode()));
    let body = serde_json::to_vec(&PageBody {
        items: page.items,
        next: next.clone(),
    })
    .map_err(|e| ApiError::Internal(e.into()))?;
    let mut response = format.respond(StatusCode::OK);
    if let Some(next) = next {
        response.insert_header((header::LINK, format!("<{next}>; rel=\"next\"")));
    }
    Ok(response.body(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(result: Result<ListQuery, ApiError>) -> Vec<String> {
        match result {
            Err(ApiError::Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected a 422, got {other:?}"),
        }
    }

    #[test]
    fn limit_defaults_and_filters_are_kept() {
        let query =
            ListQuery::parse("username=ann", "/v1/users", &["username", "email"], &[]).unwrap();
        assert_eq!(query.page.limit, 50);
        assert_eq!(query.filter("username"), Some("ann"));
        assert_eq!(query.filter("email"), None);
        assert_eq!(
            query.link_after("abc"),
            "/v1/users?limit=50&cursor=abc&username=ann"
        );
    }

    #[test]
    fn every_bad_parameter_is_named() {
        assert_eq!(
            fields(ListQuery::parse(
                "limit=0&colour=red",
                "/v1/clients",
                &[],
                &[]
            )),
            ["colour", "limit"]
        );
        assert_eq!(
            fields(ListQuery::parse("limit=x", "/v1/clients", &[], &[])),
            ["limit"]
        );
        assert_eq!(
            fields(ListQuery::parse("limit=201", "/v1/clients", &[], &[])),
            ["limit"]
        );
        assert_eq!(
            fields(ListQuery::parse("cursor=%%%", "/v1/clients", &[], &[])),
            ["cursor"]
        );
        assert_eq!(
            fields(ListQuery::parse("", "/v1/grants", &[], &["user_id"])),
            ["user_id"]
        );
        assert_eq!(
            fields(ListQuery::parse("limit=1&limit=2", "/v1/clients", &[], &[])),
            ["limit"]
        );
    }
}
