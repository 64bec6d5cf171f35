//! Cursor pagination: pages follow `next` (and the `Link` header) to the end, an insert
//! between pages loses or repeats nothing, and bad parameters are named.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::admin_helpers::{AdminApi, invalid_fields};
use crate::helpers::{Backend, spawn_app};

/// Follows `next` from `first`, inserting a client after the first page; every id seen.
async fn walk(api: &AdminApi<'_>, first: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut next = Some(first.to_owned());
    let mut pages = 0;
    while let Some(path) = next {
        let response = api.get(&path).await;
        assert_eq!(response.status(), 200, "{path}");
        let link = response
            .headers()
            .get("link")
            .map(|v| v.to_str().unwrap().to_owned());
        let page: Value = response.json().await.unwrap();
        assert!(page["items"].as_array().unwrap().len() <= 2);
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["client_id"].as_str().unwrap().to_owned()),
        );
        next = page["next"].as_str().map(str::to_owned);
        match &next {
            Some(next) => assert_eq!(link, Some(format!("<{next}>; rel=\"next\""))),
            None => assert_eq!(link, None),
        }
        if pages == 0 {
            api.app.clock.advance(Duration::from_secs(1));
            api.create_client(&json!({"name": "inserted meanwhile"}))
                .await;
        }
        pages += 1;
    }
    seen
}

async fn pages_cover_every_client_once_despite_an_insert_between_them(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    for i in 0..6 {
        // Some share a second, some do not: the order is (created_at, id) either way.
        if i % 2 == 0 {
            app.clock.advance(Duration::from_secs(1));
        }
        api.create_client(&json!({"name": format!("client {i}")}))
            .await;
    }
    let (everything, _) = api.read("/v1/clients?limit=200").await;
    let before: Vec<String> = everything["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(before.len(), 7, "six and the admin client");

    let seen = walk(&api, "/v1/clients?limit=2").await;
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no client twice: {seen:?}");
    for id in &before {
        assert!(seen.contains(id), "{id} was lost");
    }
    // The insert came after every existing client, so the walk reaches it too.
    assert_eq!(seen.len(), 8);
    assert_eq!(seen[..7], before[..]);
}

async fn the_next_link_keeps_the_filters(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    for name in ["ann", "bob"] {
        app.clock.advance(Duration::from_secs(1));
        api.create_user(&json!({"username": name, "email": format!("{name}@example.com")}))
            .await;
    }
    let (page, _) = api.read("/v1/users?limit=1").await;
    let next = page["next"].as_str().unwrap();
    assert!(next.starts_with("/v1/users?limit=1&cursor="), "{next}");
    let (second, _) = api.read(next).await;
    assert_eq!(second["items"][0]["username"], "bob");
    assert!(second["next"].is_null());

    let (filtered, _) = api.read("/v1/users?email=bob%40example.com&limit=1").await;
    assert_eq!(filtered["items"][0]["username"], "bob");
    assert!(filtered["next"].is_null());
}

async fn bad_list_parameters_are_named(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=", "cursor"),
        ("sort=name", "sort"),
    ] {
        let response = api.get(&format!("/v1/clients?{query}")).await;
        assert_eq!(invalid_fields(response).await, [field], "{query}");
    }
    let both = api.get("/v1/users?limit=500&colour=red").await;
    assert_eq!(invalid_fields(both).await, ["colour", "limit"]);
    let (page, _) = api.read("/v1/clients?limit=200").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
}

crate::on_every_backend!(
    pages_cover_every_client_once_despite_an_insert_between_them,
    the_next_link_keeps_the_filters,
    bad_list_parameters_are_named,
);
