use super::*;

// Known answers below were computed independently with Python 3's standard library:
//   base64.b64encode(hmac.new(key_bytes, message, hashlib.sha256).digest())
// where key_bytes is the key's UTF-8 bytes, or base64.b64decode(<part after "whsec_">)
// for Standard Webhooks `whsec_` keys.

const BODY: &[u8] = br#"{"message":{"eventId":"msg_1"}}"#;
const NOW: i64 = 1_700_000_000;

fn key(text: &str) -> Secret {
    Secret::new(text)
}

fn standard<'a>(id: &'a str, timestamp: &'a str, signature: &'a str) -> StandardHeaders<'a> {
    StandardHeaders {
        id: Some(id),
        timestamp: Some(timestamp),
        signature: Some(signature),
    }
}

#[test]
fn elements_signature_known_answers() {
    // hmac.new(b"secret-key-123", b'{"message":{"eventId":"msg_1"}}', sha256)
    assert_eq!(
        elements_signature(&key("secret-key-123"), BODY),
        "sha256=Rpf9dMOTc8gNJb0n37x+lcFU6AOdgsUtrnXI9kX1U0A="
    );
    // Key bytes are the UTF-8 bytes as given: hmac.new("clé-ü".encode(), b"hello", sha256)
    assert_eq!(
        elements_signature(&key("clé-ü"), b"hello"),
        "sha256=oi7L8fi29RbSLeWo8Syz0a3mhse9/DhQREA7mykJpao="
    );
}

#[test]
fn standard_signature_matches_the_spec_example() {
    // The Standard Webhooks specification's example, re-checked with Python.
    assert_eq!(
        standard_signature(
            &key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        ),
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );
}

#[test]
fn standard_signature_uses_raw_bytes_for_other_keys() {
    // hmac.new(b"plain-key", b"msg_abc.1700000000." + BODY, sha256)
    assert_eq!(
        standard_signature(&key("plain-key"), "msg_abc", NOW, BODY),
        "v1,HOCbpr3K2ODe9ko8Qsg4LTi0+o21usb2AnoApo0K41w="
    );
    // A `whsec_` key that is not base64 is used whole, as UTF-8:
    // hmac.new(b"whsec_not base64!", b"msg_abc.1700000000." + BODY, sha256)
    assert_eq!(
        standard_signature(&key("whsec_not base64!"), "msg_abc", NOW, BODY),
        "v1,hooA+zCAACK/IiOg+pYwOtb3X73bawAfoQoRXLRuJGw="
    );
}

#[test]
fn generated_keys_are_whsec_with_32_random_bytes() {
    let a = generate_signing_key();
    let b = generate_signing_key();
    assert_ne!(a, b);
    let encoded = a.expose().strip_prefix("whsec_").expect("prefix");
    assert_eq!(BASE64.decode(encoded).map(|bytes| bytes.len()), Ok(32));
    // And they sign and verify.
    let headers = SignedHeaders::new(&a, "msg_1", NOW, BODY);
    let received = standard("msg_1", "1700000000", &headers.standard_signature);
    assert_eq!(
        verify_standard(&a, &received, BODY, NOW, DEFAULT_TOLERANCE_SECS),
        Ok(())
    );
    assert_eq!(
        verify_standard(&b, &received, BODY, NOW, DEFAULT_TOLERANCE_SECS),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn signed_headers_lists_all_five_headers() {
    let k = key("secret-key-123");
    let headers = SignedHeaders::new(&k, "msg_abc", NOW, BODY);
    let pairs = headers.to_pairs();
    let names: Vec<_> = pairs.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names,
        [
            "Elements-Webhook-Id",
            "Elements-Webhook-Signature",
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature"
        ]
    );
    let value = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(value("Elements-Webhook-Id"), Some("msg_abc"));
    assert_eq!(value("webhook-id"), Some("msg_abc"));
    assert_eq!(value("webhook-timestamp"), Some("1700000000"));
    assert_eq!(
        value("Elements-Webhook-Signature"),
        Some("sha256=Rpf9dMOTc8gNJb0n37x+lcFU6AOdgsUtrnXI9kX1U0A=")
    );
    // hmac.new(b"secret-key-123", b"msg_abc.1700000000." + BODY, sha256)
    assert_eq!(
        value("webhook-signature"),
        Some("v1,PnBtsDuZ3VMr+u1SPWTFTRLBaGK6BnKxVx6+ozaeeOg=")
    );

    // What a receiver does with them.
    let lookup = |name: &str| value(name);
    assert_eq!(
        verify_elements(&k, BODY, lookup("Elements-Webhook-Signature")),
        Ok(())
    );
    let received = StandardHeaders::from_lookup(lookup);
    assert_eq!(
        verify_standard(&k, &received, BODY, NOW + 10, DEFAULT_TOLERANCE_SECS),
        Ok(())
    );
}

#[test]
fn verify_elements_rejects_tampering_and_bad_headers() {
    let k = key("secret-key-123");
    let good = elements_signature(&k, BODY);
    assert_eq!(verify_elements(&k, BODY, Some(&good)), Ok(()));

    let tampered = br#"{"message":{"eventId":"msg_2"}}"#;
    assert_eq!(
        verify_elements(&k, tampered, Some(&good)),
        Err(VerifyError::Mismatch)
    );
    assert_eq!(
        verify_elements(&key("secret-key-124"), BODY, Some(&good)),
        Err(VerifyError::Mismatch)
    );
    // A truncated MAC is not accepted.
    let short = format!(
        "sha256={}",
        BASE64.encode(&BASE64.decode(&good[7..]).expect("b64")[..16])
    );
    assert_eq!(
        verify_elements(&k, BODY, Some(&short)),
        Err(VerifyError::Mismatch)
    );

    assert_eq!(
        verify_elements(&k, BODY, None),
        Err(VerifyError::Missing {
            header: ELEMENTS_SIGNATURE_HEADER
        })
    );
    assert!(matches!(
        verify_elements(&k, BODY, Some(&good["sha256=".len()..])),
        Err(VerifyError::Malformed { .. })
    ));
    assert!(matches!(
        verify_elements(&k, BODY, Some("sha256=***not base64***")),
        Err(VerifyError::Malformed { .. })
    ));
}

#[test]
fn verify_standard_accepts_the_spec_example() {
    let k = key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    let received = standard(
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "1614265330",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    );
    let body = br#"{"test": 2432232314}"#;
    assert_eq!(
        verify_standard(&k, &received, body, 1_614_265_330, 300),
        Ok(())
    );
}

#[test]
fn verify_standard_rejects_tampering() {
    let k = key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    let signature = standard_signature(&k, "msg_abc", NOW, BODY);
    let ok = standard("msg_abc", "1700000000", &signature);
    assert_eq!(verify_standard(&k, &ok, BODY, NOW, 300), Ok(()));

    assert_eq!(
        verify_standard(&k, &ok, b"{\"message\":{}}", NOW, 300),
        Err(VerifyError::Mismatch),
        "tampered body"
    );
    assert_eq!(
        verify_standard(
            &key("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            &ok,
            BODY,
            NOW,
            300
        ),
        Err(VerifyError::Mismatch),
        "wrong key"
    );
    assert_eq!(
        verify_standard(
            &k,
            &standard("msg_abd", "1700000000", &signature),
            BODY,
            NOW,
            300
        ),
        Err(VerifyError::Mismatch),
        "wrong id"
    );
    // A replay with a fresh timestamp but the old signature.
    assert_eq!(
        verify_standard(
            &k,
            &standard("msg_abc", "1700000100", &signature),
            BODY,
            NOW + 100,
            300
        ),
        Err(VerifyError::Mismatch),
        "timestamp is signed"
    );
}

#[test]
fn verify_standard_enforces_the_time_window() {
    let k = key("plain-key");
    let signature = standard_signature(&k, "msg_abc", NOW, BODY);
    let received = standard("msg_abc", "1700000000", &signature);

    assert_eq!(verify_standard(&k, &received, BODY, NOW + 300, 300), Ok(()));
    assert_eq!(verify_standard(&k, &received, BODY, NOW - 300, 300), Ok(()));
    assert_eq!(
        verify_standard(&k, &received, BODY, NOW + 301, 300),
        Err(VerifyError::TooOld { age_secs: 301 })
    );
    assert_eq!(
        verify_standard(&k, &received, BODY, NOW - 301, 300),
        Err(VerifyError::TooNew { ahead_secs: 301 })
    );
    assert_eq!(
        verify_standard(&k, &received, BODY, i64::MAX, 300),
        Err(VerifyError::TooOld {
            age_secs: (i64::MAX - NOW) as u64
        })
    );
}

#[test]
fn verify_standard_accepts_any_matching_v1_among_several() {
    let k = key("plain-key");
    let valid = standard_signature(&k, "msg_abc", NOW, BODY);
    let other = standard_signature(&key("old-key"), "msg_abc", NOW, BODY);
    let list = format!("v2,Zm9v {other} v1,not-base64!! {valid}");
    assert_eq!(
        verify_standard(
            &k,
            &standard("msg_abc", "1700000000", &list),
            BODY,
            NOW,
            300
        ),
        Ok(())
    );
    let without_valid = format!("v2,Zm9v {other}");
    assert_eq!(
        verify_standard(
            &k,
            &standard("msg_abc", "1700000000", &without_valid),
            BODY,
            NOW,
            300
        ),
        Err(VerifyError::Mismatch)
    );
    // Only unknown versions: nothing we can check.
    let valid_mac = valid.trim_start_matches("v1,");
    assert!(matches!(
        verify_standard(
            &k,
            &standard(
                "msg_abc",
                "1700000000",
                &format!("v2,{valid_mac} v1a,{valid_mac}")
            ),
            BODY,
            NOW,
            300
        ),
        Err(VerifyError::Malformed {
            header: WEBHOOK_SIGNATURE_HEADER,
            ..
        })
    ));
}

#[test]
fn verify_standard_reports_missing_and_malformed_headers() {
    let k = key("plain-key");
    let signature = standard_signature(&k, "msg_abc", NOW, BODY);
    let full = standard("msg_abc", "1700000000", &signature);
    let check = |headers: StandardHeaders<'_>| verify_standard(&k, &headers, BODY, NOW, 300);

    assert_eq!(
        check(StandardHeaders { id: None, ..full }),
        Err(VerifyError::Missing {
            header: "webhook-id"
        })
    );
    assert_eq!(
        check(StandardHeaders {
            id: Some(" "),
            ..full
        }),
        Err(VerifyError::Missing {
            header: "webhook-id"
        })
    );
    assert_eq!(
        check(StandardHeaders {
            timestamp: None,
            ..full
        }),
        Err(VerifyError::Missing {
            header: "webhook-timestamp"
        })
    );
    assert_eq!(
        check(StandardHeaders {
            signature: None,
            ..full
        }),
        Err(VerifyError::Missing {
            header: "webhook-signature"
        })
    );
    for bad in [
        "",
        "17e8",
        "-1700000000",
        "+1700000000",
        "1700000000.5",
        "99999999999999999999",
    ] {
        assert!(
            matches!(
                check(StandardHeaders {
                    timestamp: Some(bad),
                    ..full
                }),
                Err(VerifyError::Malformed {
                    header: "webhook-timestamp",
                    ..
                })
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        check(StandardHeaders {
            signature: Some("garbage"),
            ..full
        }),
        Err(VerifyError::Malformed { .. })
    ));
}

#[test]
fn errors_never_show_the_key() {
    let k = key("super-secret-key");
    let err = verify_elements(&k, BODY, Some("sha256=AAAA")).expect_err("mismatch");
    assert!(!err.to_string().contains("super-secret-key"));
    assert!(
        !format!("{:?}", SignedHeaders::new(&k, "msg_1", NOW, BODY)).contains("super-secret-key")
    );
}
