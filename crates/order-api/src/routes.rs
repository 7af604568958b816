//! The route table, as data, and path matching.
//!
//! [`ROUTES`] is the single list of what the API serves; the OpenAPI
//! document is checked against it in both directions. Matching is exact on
//! segments (no trailing slash, no prefix): a path no template matches is a
//! 404, a path some template matches with another method is a 405 listing
//! the methods it has.

/// What a route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `POST /orders`.
    PlaceOrder,
    /// `GET /orders`.
    ListOrders,
    /// `GET /orders/{id}`.
    GetOrder,
    /// `GET /products`.
    ListProducts,
}

impl Operation {
    /// The OpenAPI `operationId`.
    pub fn operation_id(self) -> &'static str {
        match self {
            Operation::PlaceOrder => "placeOrder",
            Operation::ListOrders => "listOrders",
            Operation::GetOrder => "getOrder",
            Operation::ListProducts => "listProducts",
        }
    }
}

/// One route: method, path template (OpenAPI syntax) and operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Upper-case HTTP method.
    pub method: &'static str,
    /// Path template, `{name}` for a parameter segment.
    pub template: &'static str,
    /// What it does.
    pub operation: Operation,
}

/// Every route the API serves.
pub const ROUTES: [Route; 4] = [
    Route {
        method: "POST",
        template: "/orders",
        operation: Operation::PlaceOrder,
    },
    Route {
        method: "GET",
        template: "/orders",
        operation: Operation::ListOrders,
    },
    Route {
        method: "GET",
        template: "/orders/{id}",
        operation: Operation::GetOrder,
    },
    Route {
        method: "GET",
        template: "/products",
        operation: Operation::ListProducts,
    },
];

/// What a method and path resolve to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution<'p> {
    /// A route matched; `parameter` is the raw `{...}` segment, if any.
    Matched {
        /// The operation.
        operation: Operation,
        /// The parameter segment, undecoded.
        parameter: Option<&'p str>,
    },
    /// The path exists with other methods only.
    MethodNotAllowed {
        /// The methods the path has.
        allow: Vec<&'static str>,
    },
    /// No template matches the path.
    NotFound,
}

/// Matches `template` against `path`; `Some(parameter)` on a match.
fn match_template<'p>(template: &str, path: &'p str) -> Option<Option<&'p str>> {
    let mut parameter = None;
    let mut template_segments = template.split('/');
    let mut path_segments = path.split('/');
    loop {
        match (template_segments.next(), path_segments.next()) {
            (None, None) => return Some(parameter),
            (Some(expected), Some(actual)) => {
                if expected.starts_with('{') && expected.ends_with('}') {
                    if actual.is_empty() {
                        return None;
                    }
                    parameter = Some(actual);
                } else if expected != actual {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

/// Resolves `method` and `path` against [`ROUTES`].
pub fn resolve<'p>(method: &str, path: &'p str) -> Resolution<'p> {
    let mut allow = Vec::new();
    for route in &ROUTES {
        if let Some(parameter) = match_template(route.template, path) {
            if route.method == method {
                return Resolution::Matched {
                    operation: route.operation,
                    parameter,
                };
            }
            allow.push(route.method);
        }
    }
    if allow.is_empty() {
        Resolution::NotFound
    } else {
        Resolution::MethodNotAllowed { allow }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_exactly() {
        use Operation::*;
        let matched = |operation, parameter| Resolution::Matched {
            operation,
            parameter,
        };
        let cases: Vec<(&str, &str, Resolution)> = vec![
            ("POST", "/orders", matched(PlaceOrder, None)),
            ("GET", "/orders", matched(ListOrders, None)),
            ("GET", "/orders/ord_1", matched(GetOrder, Some("ord_1"))),
            ("GET", "/products", matched(ListProducts, None)),
            (
                "DELETE",
                "/orders",
                Resolution::MethodNotAllowed {
                    allow: vec!["POST", "GET"],
                },
            ),
            (
                "PUT",
                "/orders/x",
                Resolution::MethodNotAllowed { allow: vec!["GET"] },
            ),
            ("GET", "/orders/", Resolution::NotFound),
            ("GET", "/orders/a/b", Resolution::NotFound),
            ("GET", "/orders//", Resolution::NotFound),
            ("GET", "/", Resolution::NotFound),
            ("GET", "", Resolution::NotFound),
            ("GET", "/products/", Resolution::NotFound),
            ("GET", "orders", Resolution::NotFound),
        ];
        for (method, path, expected) in cases {
            assert_eq!(resolve(method, path), expected, "{method} {path}");
        }
    }
}
