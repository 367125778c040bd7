use super::*;
use serde_json::{Value, json};

fn instance() -> InstanceRef {
    InstanceRef {
        id: 42,
        name: "Acme books".into(),
        tags: vec!["prod".into(), "eu".into()],
    }
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("test date")
        .with_timezone(&Utc)
}

fn event(
    event_type: EventType,
    object_type: &str,
    object_id: &str,
    record: Option<Value>,
) -> ChangeEvent {
    ChangeEvent {
        event_type,
        object_type: object_type.into(),
        object_id: object_id.into(),
        date: at("2018-07-31T19:39:46Z"),
        poll_date: at("2018-07-31T19:40:36Z"),
        version: "2018-07-31T19:39:46Z".into(),
        record,
    }
}

fn customer(id: &str) -> ChangeEvent {
    event(EventType::Created, "customers", id, Some(json!({"id": id})))
}

fn message(notification: &Notification) -> Value {
    let body: Value = serde_json::from_str(&notification.body).expect("body is JSON");
    body["message"].clone()
}

fn event_ids(notification: &Notification) -> Vec<String> {
    message(notification)["events"]
        .as_array()
        .expect("events array")
        .iter()
        .map(|e| e["eventId"].as_str().expect("eventId").to_owned())
        .collect()
}

fn queued_len(notification: &Notification) -> usize {
    serde_json::to_vec(notification).expect("serializes").len()
}

#[test]
fn body_matches_hand_written_json_exactly() {
    let events = vec![
        ChangeEvent {
            event_type: EventType::Created,
            object_type: "customers".into(),
            object_id: "c1".into(),
            date: at("2018-07-31T19:39:46Z"),
            poll_date: at("2018-07-31T19:40:36Z"),
            version: "2018-07-31T19:39:46Z".into(),
            record: Some(json!({"id": "c1", "name": "Ann"})),
        },
        ChangeEvent {
            event_type: EventType::Updated,
            object_type: "invoices".into(),
            object_id: "i9".into(),
            date: at("2018-07-31T19:39:47.250Z"),
            poll_date: at("2018-07-31T19:40:36.000Z"),
            version: "2018-07-31T19:39:47.250Z".into(),
            record: Some(json!({"id": "i9", "total": "10.00"})),
        },
        ChangeEvent {
            event_type: EventType::Deleted,
            object_type: "customers".into(),
            object_id: "c2".into(),
            date: at("2018-07-31T19:30:00Z"),
            poll_date: at("2018-07-31T19:40:36Z"),
            version: "2018-07-31T19:30:00Z".into(),
            record: None,
        },
    ];
    let notifications = build_notifications(&instance(), events);
    assert_eq!(notifications.len(), 1);
    let n = &notifications[0];

    // Ids computed independently with Python's hashlib:
    //   sha256(domain + for each field: u64 big-endian length + UTF-8 bytes).hexdigest()[:32]
    // domain b"sage-events/event/v1", fields [instance id, objectType, objectId, eventType,
    // version]; the message id uses b"sage-events/notification/v1" over the event ids.
    let expected = concat!(
        r#"{"message":{"eventId":"msg_45624850cf1b4c8d338ac7667787d037","instanceId":42,"#,
        r#""instanceName":"Acme books","instanceTags":["prod","eu"],"#,
        r#""elementKey":"sageone","hubKey":"finance","events":["#,
        r#"{"eventId":"evt_d9aa163b8062ba4aca08d33d762b6813","eventType":"CREATED","#,
        r#""objectType":"customers","objectId":"c1","date":"2018-07-31T19:39:46Z","#,
        r#""pollDate":"2018-07-31T19:40:36Z","elementKey":"sageone","hubKey":"finance"},"#,
        r#"{"eventId":"evt_f1e44c56ea9a08905537bef8b3b8704b","eventType":"UPDATED","#,
        r#""objectType":"invoices","objectId":"i9","date":"2018-07-31T19:39:47.250Z","#,
        r#""pollDate":"2018-07-31T19:40:36Z","elementKey":"sageone","hubKey":"finance"},"#,
        r#"{"eventId":"evt_07027a0fd084e35a2c6bf8b2784b99b9","eventType":"DELETED","#,
        r#""objectType":"customers","objectId":"c2","date":"2018-07-31T19:30:00Z","#,
        r#""pollDate":"2018-07-31T19:40:36Z","elementKey":"sageone","hubKey":"finance"}],"#,
        r#""raw":{"customers":[{"id":"c1","name":"Ann"}],"invoices":[{"id":"i9","total":"10.00"}]}}}"#,
    );
    assert_eq!(n.body, expected);
    assert_eq!(n.event_id, "msg_45624850cf1b4c8d338ac7667787d037");
    assert_eq!(n.instance_id, 42);
    assert_eq!(n.event_count, 3);
    assert_eq!(n.body_bytes(), expected.as_bytes());
}

#[test]
fn at_most_ten_events_per_notification() {
    let events: Vec<_> = (0..25).map(|i| customer(&format!("c{i}"))).collect();
    let expected_ids: Vec<_> = events.iter().map(|e| e.event_id(42)).collect();

    let notifications = build_notifications(&instance(), events);

    let counts: Vec<_> = notifications.iter().map(|n| n.event_count).collect();
    assert_eq!(counts, [10, 10, 5]);
    let sent: Vec<_> = notifications.iter().flat_map(event_ids).collect();
    assert_eq!(sent, expected_ids, "every event once, in order");
    for n in &notifications {
        assert_eq!(event_ids(n).len(), n.event_count);
        assert_eq!(
            message(n)["raw"]["customers"].as_array().map(Vec::len),
            Some(n.event_count)
        );
    }
}

#[test]
fn builder_emits_on_the_tenth_push_and_finish_flushes_the_rest() {
    let mut builder = NotificationBuilder::new(&instance());
    for i in 0..9 {
        assert!(builder.push(customer(&format!("c{i}"))).is_none());
    }
    assert_eq!(builder.pending_events(), 9);
    let full = builder
        .push(customer("c9"))
        .expect("tenth event completes a batch");
    assert_eq!(full.event_count, 10);
    assert_eq!(builder.pending_events(), 0);
    assert!(builder.push(customer("c10")).is_none());
    let last = builder.finish().expect("one event left");
    assert_eq!(last.event_count, 1);

    assert!(NotificationBuilder::new(&instance()).finish().is_none());
    assert!(build_notifications(&instance(), Vec::new()).is_empty());
}

#[test]
fn raw_groups_records_by_object_type() {
    let events = vec![
        customer("c1"),
        event(
            EventType::Updated,
            "invoices",
            "i1",
            Some(json!({"id": "i1", "n": 1})),
        ),
        customer("c2"),
        event(EventType::Deleted, "invoices", "i2", None),
    ];
    let n = &build_notifications(&instance(), events)[0];
    let message = message(n);
    assert_eq!(
        message["raw"],
        json!({"customers": [{"id": "c1"}, {"id": "c2"}], "invoices": [{"id": "i1", "n": 1}]})
    );
    let types: Vec<_> = message["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| (e["objectType"].as_str(), e["objectId"].as_str()))
        .collect();
    assert_eq!(
        types,
        [
            (Some("customers"), Some("c1")),
            (Some("invoices"), Some("i1")),
            (Some("customers"), Some("c2")),
            (Some("invoices"), Some("i2")),
        ]
    );
    assert!(message.get("rawTruncated").is_none());
}

#[test]
fn events_without_records_leave_raw_empty() {
    let n = &build_notifications(
        &instance(),
        vec![event(EventType::Deleted, "customers", "c1", None)],
    )[0];
    assert_eq!(message(n)["raw"], json!({}));
}

#[test]
fn ids_are_deterministic() {
    let events = || {
        (0..12)
            .map(|i| customer(&format!("c{i}")))
            .collect::<Vec<_>>()
    };
    let first = build_notifications(&instance(), events());
    let second = build_notifications(&instance(), events());
    assert_eq!(first, second, "same input, same notifications and ids");

    let base = customer("c1");
    let id = base.event_id(42);
    assert!(id.starts_with("evt_") && id.len() == 36, "{id}");
    assert!(
        id[4..]
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );

    // What is not part of an event's identity does not change its id…
    let mut repolled = base.clone();
    repolled.poll_date = at("2020-01-01T00:00:00Z");
    repolled.record = Some(json!({"id": "c1", "changed": true}));
    assert_eq!(repolled.event_id(42), id);

    // …and each identifying field does.
    let mut newer = base.clone();
    newer.version = "2018-07-31T19:39:47Z".into();
    assert_ne!(newer.event_id(42), id);
    let mut updated = base.clone();
    updated.event_type = EventType::Updated;
    assert_ne!(updated.event_id(42), id);
    let mut other_type = base.clone();
    other_type.object_type = "suppliers".into();
    assert_ne!(other_type.event_id(42), id);
    assert_ne!(base.event_id(43), id);

    // Fields are delimited: moving a character between fields gives another id.
    let mut a = base.clone();
    a.object_type = "customers1".into();
    a.object_id = "".into();
    let mut b = base.clone();
    b.object_type = "customers".into();
    b.object_id = "1".into();
    assert_ne!(a.event_id(42), b.event_id(42));

    // The notification id follows its events.
    let one = build_notifications(&instance(), vec![base.clone()]);
    let other = build_notifications(&instance(), vec![newer]);
    assert_ne!(one[0].event_id, other[0].event_id);
    assert!(one[0].event_id.starts_with("msg_") && one[0].event_id.len() == 36);
}

#[test]
fn size_cap_splits_large_records_without_losing_any() {
    // 30 records of ~40 KiB; six fit under 256 KiB, seven do not.
    let events: Vec<_> = (0..30)
        .map(|i| {
            let id = format!("c{i}");
            event(
                EventType::Updated,
                "customers",
                &id,
                Some(json!({"id": id, "notes": "x".repeat(40 * 1024)})),
            )
        })
        .collect();
    let expected_ids: Vec<_> = events.iter().map(|e| e.event_id(42)).collect();

    let notifications = build_notifications(&instance(), events);

    let counts: Vec<_> = notifications.iter().map(|n| n.event_count).collect();
    assert_eq!(
        counts,
        [6, 6, 6, 6, 6],
        "batches are filled, not closed early"
    );
    for n in &notifications {
        assert!(queued_len(n) <= MAX_NOTIFICATION_BYTES, "{}", queued_len(n));
        assert!(n.body.len() <= MAX_NOTIFICATION_BYTES);
        assert_eq!(
            message(n)["raw"]["customers"].as_array().map(Vec::len),
            Some(n.event_count)
        );
        assert!(message(n).get("rawTruncated").is_none());
    }
    let sent: Vec<_> = notifications.iter().flat_map(event_ids).collect();
    assert_eq!(sent, expected_ids);
}

#[test]
fn size_cap_counts_escaping_in_the_queued_form() {
    // Quotes and backslashes grow when the body is embedded as a JSON string in the queue
    // message; the cap applies to that form.
    let noisy = "\"\\\n".repeat(5 * 1024); // 15 KiB of text, ~35 KiB in the body, more queued
    let events: Vec<_> = (0..20)
        .map(|i| {
            let id = format!("c{i}");
            event(
                EventType::Updated,
                "customers",
                &id,
                Some(json!({"id": id, "notes": noisy})),
            )
        })
        .collect();
    let notifications = build_notifications(&instance(), events);
    assert!(notifications.len() > 2);
    assert_eq!(
        notifications.iter().map(|n| n.event_count).sum::<usize>(),
        20
    );
    for n in &notifications {
        assert!(queued_len(n) <= MAX_NOTIFICATION_BYTES, "{}", queued_len(n));
    }
}

#[test]
fn single_oversized_record_is_truncated_and_flagged() {
    let big = event(
        EventType::Created,
        "customers",
        "big",
        Some(json!({"id": "big", "notes": "y".repeat(300 * 1024)})),
    );
    let notifications = build_notifications(
        &instance(),
        vec![customer("before"), big.clone(), customer("after")],
    );

    assert_eq!(notifications.len(), 3, "the truncated event travels alone");
    let truncated = &notifications[1];
    assert_eq!(truncated.event_count, 1);
    assert_eq!(event_ids(truncated), [big.event_id(42)]);
    let message_value = message(truncated);
    assert_eq!(message_value["rawTruncated"], json!(true));
    assert_eq!(message_value["raw"], json!({"customers": [{"id": "big"}]}));
    assert!(queued_len(truncated) <= MAX_NOTIFICATION_BYTES);
    assert!(
        truncated
            .body
            .ends_with(r#""raw":{"customers":[{"id":"big"}]},"rawTruncated":true}}"#)
    );

    for n in [&notifications[0], &notifications[2]] {
        assert_eq!(n.event_count, 1);
        assert!(message(n).get("rawTruncated").is_none());
    }
    assert_eq!(
        message(&notifications[2])["raw"],
        json!({"customers": [{"id": "after"}]})
    );

    // Alone, too.
    let only = build_notifications(&instance(), vec![big]);
    assert_eq!(only.len(), 1);
    assert_eq!(message(&only[0])["rawTruncated"], json!(true));
}

#[test]
fn body_survives_a_queue_round_trip_byte_for_byte() {
    let tricky = InstanceRef {
        id: u64::MAX,
        name: "Zoë \"books\" \\ \t \u{2028} 🦀".into(),
        tags: vec!["a/b".into(), "<&>".into()],
    };
    let record = json!({"id": "c1", "text": "line\nbreak \u{0001} \u{7f} é 1.5e3", "n": 1.25});
    let notification = build_notifications(
        &tricky,
        vec![event(EventType::Created, "customers", "c1", Some(record))],
    )
    .pop()
    .expect("one notification");

    let queued = serde_json::to_string(&notification).expect("serializes");
    let back: Notification = serde_json::from_str(&queued).expect("deserializes");
    assert_eq!(back.body_bytes(), notification.body_bytes());
    assert_eq!(back, notification);

    let message = message(&back);
    assert_eq!(message["instanceName"], json!(tricky.name));
    assert_eq!(message["instanceId"], json!(u64::MAX));
}

#[test]
fn dates_render_in_seconds_with_millis_only_when_present() {
    let mut e = customer("c1");
    e.date = at("2018-07-31T19:39:46.000900Z"); // sub-millisecond only: dropped
    e.poll_date = at("2018-07-31T21:40:36.5+02:00");
    let n = &build_notifications(&instance(), vec![e])[0];
    let events = &message(n)["events"];
    assert_eq!(events[0]["date"], json!("2018-07-31T19:39:46Z"));
    assert_eq!(events[0]["pollDate"], json!("2018-07-31T19:40:36.500Z"));
}

#[test]
fn event_type_wire_names() {
    assert_eq!(
        serde_json::to_string(&EventType::Created).ok().as_deref(),
        Some("\"CREATED\"")
    );
    assert_eq!(
        serde_json::to_string(&EventType::Updated).ok().as_deref(),
        Some("\"UPDATED\"")
    );
    assert_eq!(
        serde_json::to_string(&EventType::Deleted).ok().as_deref(),
        Some("\"DELETED\"")
    );
    assert_eq!(
        serde_json::from_str::<EventType>("\"DELETED\"").ok(),
        Some(EventType::Deleted)
    );
    assert!(serde_json::from_str::<EventType>("\"deleted\"").is_err());
}
