//! The list endpoints: envelope, paging, attributes, incremental filters, single records.

mod common;

use chrono::TimeDelta;
use common::*;
use serde_json::json;
use std::collections::HashSet;

fn is_sage_id(id: &str) -> bool {
    id.len() == 32
        && id
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

#[tokio::test]
async fn pages_through_1001_records_following_next() {
    let sim = frozen_sim().await;
    let seeded: HashSet<String> = sim.seed("contacts", 1001).into_iter().collect();
    let (token, _) = login(&sim).await;
    let pages = all_pages(&sim, &token, "/contacts?items_per_page=200").await;
    assert_eq!(pages.len(), 6);
    let mut seen = Vec::new();
    for (i, page) in pages.iter().enumerate() {
        let n = i + 1;
        assert_eq!(page["$total"], 1001);
        assert_eq!(page["$page"], n);
        assert_eq!(page["$itemsPerPage"], 200);
        let items = page["$items"].as_array().unwrap();
        assert_eq!(items.len(), if n < 6 { 200 } else { 1 });
        if n == 1 {
            assert!(page["$back"].is_null());
        } else {
            assert_eq!(
                page["$back"],
                format!("/contacts?page={}&items_per_page=200", n - 1)
            );
        }
        if n < 6 {
            assert_eq!(
                page["$next"],
                format!("/contacts?page={}&items_per_page=200", n + 1)
            );
        } else {
            assert!(page["$next"].is_null());
        }
        seen.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
    }
    assert_eq!(seen.len(), 1001, "doubled records");
    assert_eq!(
        seen.iter().cloned().collect::<HashSet<_>>(),
        seeded,
        "missing records"
    );
    // Stable order, by id — unrelated to creation order.
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
}

#[tokio::test]
async fn a_page_past_the_end_is_the_last_page_again() {
    let sim = frozen_sim().await;
    sim.seed("contacts", 45);
    let (token, _) = login(&sim).await;
    let last = get(&sim, &token, "/contacts?page=3").await;
    let beyond = get(&sim, &token, "/contacts?page=9").await;
    assert_eq!(beyond.status, 200);
    assert_eq!(beyond.ids(), last.ids());
    assert_eq!(beyond.ids().len(), 5);
    assert_eq!(beyond.body["$page"], 3);
    assert!(beyond.body["$next"].is_null());
    assert_eq!(beyond.body["$back"], "/contacts?page=2&items_per_page=20");
}

#[tokio::test]
async fn an_empty_list_is_one_empty_page() {
    let sim = frozen_sim().await;
    let (token, _) = login(&sim).await;
    let answer = get(&sim, &token, "/sales_invoices").await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body,
        json!({"$total": 0, "$page": 1, "$next": null, "$back": null, "$itemsPerPage": 20, "$items": []})
    );
}

#[tokio::test]
async fn items_per_page_defaults_to_20_and_is_clamped_to_200() {
    let sim = frozen_sim().await;
    sim.seed("products", 250);
    let (token, _) = login(&sim).await;
    let default = get(&sim, &token, "/products").await;
    assert_eq!(default.ids().len(), 20);
    assert_eq!(default.body["$itemsPerPage"], 20);
    assert_eq!(default.body["$next"], "/products?page=2&items_per_page=20");
    let big = get(&sim, &token, "/products?items_per_page=500").await;
    assert_eq!(big.ids().len(), 200);
    assert_eq!(big.body["$itemsPerPage"], 200);
}

#[tokio::test]
async fn bad_paging_parameters_are_400_error_arrays() {
    let sim = frozen_sim().await;
    let (token, _) = login(&sim).await;
    for query in [
        "items_per_page=0",
        "items_per_page=-5",
        "items_per_page=lots",
        "page=0",
        "page=two",
    ] {
        let answer = get(&sim, &token, &format!("/contacts?{query}")).await;
        assert_eq!(answer.status, 400, "{query}");
        assert_eq!(answer.data_code(), "InvalidParameter", "{query}");
    }
}

#[tokio::test]
async fn lists_show_three_attributes_unless_asked_for_more() {
    let sim = frozen_sim().await;
    let id = sim.create(
        "contacts",
        json!({"name": "Acme Ltd", "reference": "ACME001", "email": "a@acme.example"}),
    );
    let (token, _) = login(&sim).await;

    let minimal = get(&sim, &token, "/contacts").await;
    let item = &minimal.body["$items"][0];
    assert_eq!(
        item,
        &json!({"id": id, "displayed_as": "Acme Ltd (ACME001)", "$path": format!("/contacts/{id}")})
    );

    let some = get(&sim, &token, "/contacts?attributes=name,updated_at").await;
    let item = some.body["$items"][0].as_object().unwrap();
    let keys: HashSet<&str> = item.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        HashSet::from(["id", "displayed_as", "$path", "name", "updated_at"])
    );
    assert_eq!(item["updated_at"], "2023-06-13T10:40:55Z");

    let all = get(&sim, &token, "/contacts?attributes=all").await;
    let item = &all.body["$items"][0];
    assert_eq!(item["email"], "a@acme.example");
    assert_eq!(item["created_at"], "2023-06-13T10:40:55Z");
    assert_eq!(item["contact_types"][0]["id"], "CUSTOMER");
}

#[tokio::test]
async fn a_single_record_has_all_attributes() {
    let sim = frozen_sim().await;
    let ids = sim.seed("sales_invoices", 2);
    let (token, _) = login(&sim).await;
    let answer = get(&sim, &token, &format!("/sales_invoices/{}", ids[1])).await;
    assert_eq!(answer.status, 200);
    let record = &answer.body;
    assert!(is_sage_id(record["id"].as_str().unwrap()));
    assert_eq!(record["$path"], format!("/sales_invoices/{}", ids[1]));
    assert_eq!(record["displayed_as"], record["invoice_number"]);
    assert!(record["total_amount"].is_string());
    assert_eq!(record["created_at"], "2023-06-13T10:40:55Z");
    assert_eq!(record["updated_at"], "2023-06-13T10:40:55Z");
    assert_eq!(Some(record.clone()), sim.record("sales_invoices", &ids[1]));
}

#[tokio::test]
async fn unknown_things_are_404_error_arrays() {
    let sim = frozen_sim().await;
    let ids = sim.seed("contacts", 1);
    let (token, _) = login(&sim).await;
    let no_record = get(&sim, &token, "/contacts/00000000000000000000000000000000").await;
    assert_eq!(
        (no_record.status, no_record.data_code()),
        (404, "RecordNotFound")
    );
    let no_endpoint = get(&sim, &token, "/widgets").await;
    assert_eq!(no_endpoint.status, 404);
    assert_eq!(no_endpoint.body[0]["$severity"], "error");
    assert!(sim.delete("contacts", &ids[0]));
    let gone = get(&sim, &token, &format!("/contacts/{}", ids[0])).await;
    assert_eq!(gone.status, 404);
}

#[tokio::test]
async fn every_documented_endpoint_is_served() {
    let sim = frozen_sim().await;
    let (token, _) = login(&sim).await;
    for endpoint in sage_sim::served_endpoints() {
        if endpoint != "contact_types" {
            let id = sim.seed(endpoint, 1).remove(0);
            let one = get(&sim, &token, &format!("/{endpoint}/{id}")).await;
            assert_eq!(one.status, 200, "{endpoint}");
            assert_ne!(
                one.body["displayed_as"], id,
                "{endpoint} has a real displayed_as"
            );
        }
        let list = get(&sim, &token, &format!("/{endpoint}")).await;
        assert_eq!(list.status, 200, "{endpoint}");
    }
    let types = get(&sim, &token, "/contact_types").await;
    assert_eq!(types.ids(), vec!["CUSTOMER", "VENDOR"]);
}

#[tokio::test]
async fn updated_or_created_since_is_inclusive_at_the_second() {
    let sim = frozen_sim().await;
    let t0 = start_time();
    let old = sim.create_at(
        "contacts",
        json!({"name": "Old"}),
        t0 - TimeDelta::seconds(1),
    );
    let at_boundary = sim.create_at("contacts", json!({"name": "Boundary"}), t0);
    let later = sim.create_at(
        "contacts",
        json!({"name": "Later"}),
        t0 + TimeDelta::seconds(1),
    );
    let (token, _) = login(&sim).await;

    let ids = |a: &Answer| a.ids().into_iter().collect::<HashSet<_>>();
    let since_t0 = get(
        &sim,
        &token,
        "/contacts?updated_or_created_since=2023-06-13T10:40:55Z",
    )
    .await;
    assert_eq!(
        ids(&since_t0),
        HashSet::from([at_boundary.clone(), later.clone()])
    );
    // The same instant with an offset (the + percent-encoded, as it must be).
    let offset = get(
        &sim,
        &token,
        "/contacts?updated_or_created_since=2023-06-13T11:40:55%2B01:00",
    )
    .await;
    assert_eq!(ids(&offset), ids(&since_t0));

    // An update brings an old record back in; updated_at counts, not created_at.
    sim.set_now(t0 + TimeDelta::seconds(5));
    assert!(sim.update("contacts", &old, json!({"name": "Old, renamed"})));
    let since_t5 = get(
        &sim,
        &token,
        "/contacts?updated_or_created_since=2023-06-13T10:41:00Z&attributes=name",
    )
    .await;
    assert_eq!(since_t5.ids(), vec![old.clone()]);
    assert_eq!(since_t5.body["$items"][0]["name"], "Old, renamed");
    assert_eq!(
        since_t5.body["$items"][0]["displayed_as"],
        "Old, renamed (CUST00001)"
    );
}

#[tokio::test]
async fn bad_times_are_400s() {
    let sim = frozen_sim().await;
    let (token, _) = login(&sim).await;
    for value in [
        "yesterday",
        "2023-06-13T10:40:55",       // no offset
        "2023-06-13T11:40:55+01:00", // '+' unencoded decodes to a space
    ] {
        let answer = get(
            &sim,
            &token,
            &format!("/contacts?updated_or_created_since={value}"),
        )
        .await;
        assert_eq!(
            (answer.status, answer.data_code()),
            (400, "InvalidParameter"),
            "{value}"
        );
        let answer = get(&sim, &token, &format!("/contacts?deleted_since={value}")).await;
        assert_eq!(answer.status, 400, "{value}");
    }
}

#[tokio::test]
async fn deleted_since_is_exclusive_and_deleted_records_leave_the_lists() {
    let sim = frozen_sim().await;
    let ids = sim.seed("contacts", 4);
    let t0 = start_time();
    sim.set_now(t0 + TimeDelta::seconds(10));
    assert!(sim.delete("contacts", &ids[1]));
    assert!(!sim.delete("contacts", &ids[1]), "already deleted");
    assert!(
        !sim.update("contacts", &ids[1], json!({"name": "x"})),
        "deleted"
    );
    sim.set_now(t0 + TimeDelta::seconds(20));
    assert!(sim.delete("contacts", &ids[2]));
    let (token, _) = login(&sim).await;

    let live = get(&sim, &token, "/contacts").await;
    assert_eq!(live.body["$total"], 2);
    assert!(!live.ids().contains(&ids[1]) && !live.ids().contains(&ids[2]));
    let changed = get(
        &sim,
        &token,
        "/contacts?updated_or_created_since=2023-06-13T10:40:00Z",
    )
    .await;
    assert_eq!(changed.body["$total"], 2);

    // Deleted at t0+10 exactly: not "since" t0+10.
    let after_10 = get(&sim, &token, "/contacts?deleted_since=2023-06-13T10:41:05Z").await;
    assert_eq!(after_10.ids(), vec![ids[2].clone()]);
    assert_eq!(
        after_10.body["$items"][0],
        json!({"id": ids[2], "deleted_at": "2023-06-13T10:41:15Z"})
    );
    let after_9 = get(&sim, &token, "/contacts?deleted_since=2023-06-13T10:41:04Z").await;
    assert_eq!(
        after_9.ids().into_iter().collect::<HashSet<_>>(),
        HashSet::from([ids[1].clone(), ids[2].clone()])
    );
    assert_eq!(after_9.body["$total"], 2);
    let record = sim.record("contacts", &ids[1]).unwrap();
    assert_eq!(record["deleted_at"], "2023-06-13T10:41:05Z");
}

#[tokio::test]
async fn filters_sage_lacks_are_refused() {
    let sim = frozen_sim().await;
    let (token, _) = login(&sim).await;
    for endpoint in [
        "ledger_accounts",
        "transactions",
        "ledger_entries",
        "tax_rates",
        "contact_types",
    ] {
        let answer = get(
            &sim,
            &token,
            &format!("/{endpoint}?deleted_since=2023-06-13T10:40:55Z"),
        )
        .await;
        assert_eq!(
            (answer.status, answer.data_code()),
            (400, "InvalidParameter"),
            "{endpoint}"
        );
    }
    let answer = get(
        &sim,
        &token,
        "/contact_types?updated_or_created_since=2023-06-13T10:40:55Z",
    )
    .await;
    assert_eq!(answer.status, 400);
    let ok = get(
        &sim,
        &token,
        "/ledger_accounts?updated_or_created_since=2023-06-13T10:40:55Z",
    )
    .await;
    assert_eq!(ok.status, 200);
    let both = get(
        &sim,
        &token,
        "/contacts?updated_or_created_since=2023-06-13T10:40:55Z&deleted_since=2023-06-13T10:40:55Z",
    )
    .await;
    assert_eq!(both.status, 400);
}

#[tokio::test]
async fn contact_type_and_search_filter_contacts() {
    let sim = frozen_sim().await;
    let seeded = sim.seed("contacts", 6);
    let vendor = sim.create(
        "contacts",
        json!({"name": "Bolt Supplies", "reference": "BOLT1", "contact_types": ["VENDOR"]}),
    );
    let (token, _) = login(&sim).await;

    let customers = get(
        &sim,
        &token,
        "/contacts?contact_type_id=CUSTOMER&attributes=contact_types",
    )
    .await;
    // Seeded contacts alternate, starting with a customer.
    let expected: HashSet<String> = [&seeded[0], &seeded[2], &seeded[4]]
        .into_iter()
        .cloned()
        .collect();
    assert_eq!(
        customers.ids().into_iter().collect::<HashSet<_>>(),
        expected
    );
    for item in customers.body["$items"].as_array().unwrap() {
        assert_eq!(item["contact_types"][0]["id"], "CUSTOMER");
    }
    let vendors = get(&sim, &token, "/contacts?contact_type_id=VENDOR").await;
    assert_eq!(vendors.body["$total"], 4);
    assert!(vendors.ids().contains(&vendor));

    let search = get(&sim, &token, "/contacts?search=bolt").await;
    assert_eq!(search.ids(), vec![vendor.clone()]);
    let by_reference = get(&sim, &token, "/contacts?search=BOLT1").await;
    assert_eq!(by_reference.ids(), vec![vendor]);
}

#[tokio::test]
async fn next_links_keep_the_filters_encoded() {
    let sim = frozen_sim().await;
    sim.seed("contacts", 5);
    let (token, _) = login(&sim).await;
    let first = get(
        &sim,
        &token,
        "/contacts?items_per_page=2&updated_or_created_since=2023-06-13T11:40:55%2B01:00&attributes=all",
    )
    .await;
    let next = first.body["$next"].as_str().unwrap();
    assert_eq!(
        next,
        "/contacts?page=2&items_per_page=2&updated_or_created_since=2023-06-13T11%3A40%3A55%2B01%3A00&attributes=all"
    );
    let pages = all_pages(&sim, &token, next).await;
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[1]["$items"].as_array().unwrap().len(), 1);
    assert!(
        pages[1]["$items"][0]["email"].is_string(),
        "attributes carried along"
    );
}

#[tokio::test]
async fn lists_see_changes_between_pages() {
    let sim = frozen_sim().await;
    sim.seed("products", 30);
    let (token, _) = login(&sim).await;
    let first = get(&sim, &token, "/products?items_per_page=20").await;
    assert_eq!(first.body["$total"], 30);
    sim.seed("products", 15);
    let second = get(&sim, &token, "/products?page=2&items_per_page=20").await;
    assert_eq!(second.body["$total"], 45);
    assert!(second.body["$next"].is_string());
}

#[tokio::test]
async fn the_business_header_is_logged() {
    let sim = frozen_sim().await;
    let (token, _) = login(&sim).await;
    let business = "0123456789abcdef0123456789abcdef";
    let response = http()
        .get(format!("{}/contacts", sim.api_url()))
        .bearer_auth(&token)
        .header("X-Business", business)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let logged = sim.requests().pop().unwrap();
    assert_eq!(logged.business.as_deref(), Some(business));
    assert_eq!(logged.accept.as_deref(), Some("*/*"), "reqwest's default");
    get(&sim, &token, "/contacts").await;
    let logged = sim.requests().pop().unwrap();
    assert_eq!(logged.business, None);
    assert_eq!(logged.accept.as_deref(), Some("application/json"));
}

#[tokio::test]
async fn endpoint_names_may_have_a_leading_slash() {
    let sim = frozen_sim().await;
    let ids = sim.seed("/services", 3);
    assert_eq!(sim.count("services"), 3);
    assert!(sim.update("/services", &ids[0], json!({"description": "Audit"})));
    assert_eq!(
        sim.record("services", &ids[0]).unwrap()["displayed_as"],
        "Audit"
    );
    assert!(sim.delete("/services", &ids[0]));
    assert_eq!(sim.count("/services"), 2);
}

#[tokio::test]
async fn keys_come_in_sages_order() {
    let sim = frozen_sim().await;
    let id = sim.create("contacts", json!({"name": "Acme"}));
    let (token, _) = login(&sim).await;
    let list = http()
        .get(format!("{}/contacts?attributes=all", sim.api_url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let prefix = format!(
        "{{\"$total\":1,\"$page\":1,\"$next\":null,\"$back\":null,\"$itemsPerPage\":20,\"$items\":[{{\"id\":\"{id}\",\"displayed_as\":\"Acme (CUST00001)\",\"$path\":\"/contacts/{id}\","
    );
    assert!(list.starts_with(&prefix), "{list}");
}
