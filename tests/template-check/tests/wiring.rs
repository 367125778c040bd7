//! The deployment (`template.yaml`) matches the code: the binaries exist, each function
//! gets the environment `sage_events_core::env_names` says it reads, each role grants what
//! its function needs and nothing of the others', and the queues are wired as the delivery
//! retry logic assumes. `cfn-lint`/`sam validate` (scripts/lint-template) check the rest.

use sage_events_core::env_names;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use template_check::intrinsic::{reference, render};
use template_check::{Function, Statement, Template, workspace_binaries, workspace_root};

/// Binary name → the variables that function reads.
const FUNCTIONS: [(&str, &[&str]); 3] = [
    ("poller", env_names::POLLER_ENV),
    ("registration", env_names::REGISTRATION_ENV),
    ("delivery", env_names::DELIVERY_ENV),
];

/// The per-instance secrets' ARN pattern.
const INSTANCE_SECRETS: &str =
    "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${SecretPrefix}*";

fn template() -> Template {
    let path = workspace_root().join("template.yaml");
    Template::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn function<'a>(t: &'a Template, binary: &str) -> Function<'a> {
    t.function_by_binary(binary).unwrap_or_else(|| {
        panic!("template.yaml has no function with Metadata.BuildProperties.Binary `{binary}`")
    })
}

/// The logical id a `${Id}` / `${Id.Attr}` rendering names.
fn id_of(rendered: &str) -> &str {
    rendered
        .strip_prefix("${")
        .and_then(|r| r.strip_suffix('}'))
        .map(|r| r.split('.').next().unwrap_or(r))
        .unwrap_or_else(|| panic!("`{rendered}` is not a !Ref or !GetAtt"))
}

/// The template resource an environment variable of `binary` refers to.
fn env_target(t: &Template, binary: &str, variable: &str) -> String {
    let env = function(t, binary).environment();
    let value = env
        .get(variable)
        .unwrap_or_else(|| panic!("{binary} has no {variable}"));
    id_of(value).to_owned()
}

/// What a role's statements allow.
struct Grants {
    role: String,
    statements: Vec<Statement>,
}

impl Grants {
    fn of_function(t: &Template, binary: &str) -> Grants {
        let f = function(t, binary);
        let role = f.role_id().unwrap_or_else(|| {
            panic!("{binary}: `Role` must be !GetAtt <a role of this template>.Arn")
        });
        Grants::of_role(t, &role)
    }

    fn of_role(t: &Template, role: &str) -> Grants {
        let statements = t.role_statements(role);
        assert!(!statements.is_empty(), "role {role} has no statements");
        Grants {
            role: role.to_owned(),
            statements,
        }
    }

    /// Resources on which `action` is allowed.
    fn resources(&self, action: &str) -> BTreeSet<String> {
        self.statements
            .iter()
            .filter(|s| s.allows(action))
            .flat_map(|s| s.resources.iter().cloned())
            .collect()
    }

    fn can(&self, action: &str, resource: &str) -> bool {
        self.resources(action).contains(resource)
    }

    fn assert_can(&self, action: &str, resource: &str) {
        assert!(
            self.can(action, resource),
            "role {} must allow {action} on {resource}; it allows it on {:?}",
            self.role,
            self.resources(action)
        );
    }

    /// Every action named by an Allow statement.
    fn actions(&self) -> BTreeSet<String> {
        self.statements
            .iter()
            .filter(|s| s.is_allow())
            .flat_map(|s| s.actions.iter().cloned())
            .collect()
    }

    /// The role allows nothing outside `allowed`.
    fn assert_only(&self, allowed: &[&str]) {
        let extra: Vec<String> = self
            .actions()
            .into_iter()
            .filter(|a| !allowed.iter().any(|x| x.eq_ignore_ascii_case(a)))
            .collect();
        assert!(
            extra.is_empty(),
            "role {} allows more than it needs: {extra:?}",
            self.role
        );
    }

    fn assert_cannot(&self, action: &str) {
        assert!(
            self.resources(action).is_empty(),
            "role {} must not allow {action}",
            self.role
        );
    }

    fn mentions(&self, text: &str) -> bool {
        self.statements
            .iter()
            .any(|s| s.resources.iter().any(|r| r.contains(text)))
    }
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

#[test]
fn the_three_functions_are_rust_arm64_builds_from_the_workspace_root() {
    let t = template();
    let binaries: BTreeSet<&str> = t.functions().iter().filter_map(|f| f.binary()).collect();
    let expected: BTreeSet<&str> = FUNCTIONS.iter().map(|(b, _)| *b).collect();
    assert_eq!(binaries, expected, "functions by BuildProperties.Binary");
    assert_eq!(t.functions().len(), 3, "one function per binary");
    for f in t.functions() {
        let id = f.id();
        assert_eq!(
            f.build_method(),
            Some("rust-cargolambda"),
            "{id} BuildMethod"
        );
        // SAM's Rust build fails when CodeUri points at a workspace member.
        assert_eq!(
            f.setting("CodeUri").map(render).as_deref(),
            Some("./"),
            "{id}"
        );
        assert_eq!(
            f.setting("Runtime").map(render).as_deref(),
            Some("provided.al2023"),
            "{id}"
        );
        assert_eq!(
            f.setting("Handler").map(render).as_deref(),
            Some("bootstrap"),
            "{id}"
        );
        assert_eq!(
            f.setting("Architectures").map(render).as_deref(),
            Some("[arm64]"),
            "{id}"
        );
        // An explicit role, so SAM attaches no managed policy with `Resource: "*"`.
        let role = f
            .role_id()
            .unwrap_or_else(|| panic!("{id} needs Role: !GetAtt X.Arn"));
        let kind = t.resource(&role).map(|r| r.kind);
        assert_eq!(kind, Some("AWS::IAM::Role"), "{id}'s role {role}");
        assert!(
            f.resource.property("Policies").is_none(),
            "{id}: Role and Policies"
        );
    }
}

#[test]
fn every_binary_is_built_by_a_workspace_member_under_functions() {
    let t = template();
    let root = workspace_root();
    let functions_dir = canonical(&root.join("functions"));
    let binaries = workspace_binaries(&root).unwrap_or_else(|e| panic!("{e}"));
    let available: Vec<String> = binaries
        .iter()
        .filter(|b| canonical(&b.package_dir).starts_with(&functions_dir))
        .map(|b| format!("{} (package {})", b.name, b.package))
        .collect();
    let missing: Vec<String> = t
        .functions()
        .iter()
        .filter_map(|f| f.binary())
        .filter(|bin| {
            !binaries
                .iter()
                .any(|b| b.name == *bin && canonical(&b.package_dir).starts_with(&functions_dir))
        })
        .map(|bin| format!("`{bin}` (expected crate functions/{bin}, a workspace member)"))
        .collect();
    assert!(
        missing.is_empty(),
        "no workspace member under functions/ builds binary {}; binaries found there: {available:?}",
        missing.join(", ")
    );
}

#[test]
fn each_function_gets_exactly_the_environment_it_reads() {
    let t = template();
    for (binary, reads) in FUNCTIONS {
        let env = function(&t, binary).environment();
        let set: BTreeSet<&str> = env.keys().map(String::as_str).collect();
        let wanted: BTreeSet<&str> = reads.iter().copied().collect();
        let missing: Vec<_> = wanted.difference(&set).collect();
        let stray: Vec<_> = set.difference(&wanted).collect();
        assert!(missing.is_empty(), "{binary} lacks {missing:?}");
        assert!(
            stray.is_empty(),
            "{binary} is given variables it does not read: {stray:?}"
        );
        for (name, value) in &env {
            assert!(!value.is_empty(), "{binary}: {name} is empty");
        }
    }
}

#[test]
fn knobs_are_parameters_with_the_documented_defaults() {
    let t = template();
    let parameters = t.section("Parameters").expect("Parameters");
    let default = |name: &str| {
        parameters
            .as_mapping_get(name)
            .unwrap_or_else(|| panic!("parameter {name}"))
            .as_mapping_get("Default")
            .map(render)
    };
    for (name, value) in [
        ("MinRefreshIntervalMinutes", "1"),
        ("RetrySchedule", "4,4,43200"),
        ("MaxReceiveCount", "10"),
        ("CallbackTimeoutSeconds", "15"),
        ("ApiCredentialsTtlSeconds", "60"),
        ("AllowLoopbackCallbacks", "false"),
        ("RequireHttpsCallbacks", "false"),
        ("LogLevel", "info"),
        ("SageApiUrl", "https://api.accounting.sage.com/v3.1"),
        ("SageTokenUrl", "https://oauth.accounting.sage.com/token"),
        ("SageRevokeUrl", "https://oauth.accounting.sage.com/revoke"),
        ("SecretPrefix", "sage-events/instances/"),
    ] {
        assert_eq!(default(name).as_deref(), Some(value), "default of {name}");
    }
    for name in ["ApiCredentialsSecretName", "TableDeletionProtection"] {
        assert!(
            parameters.as_mapping_get(name).is_some(),
            "parameter {name}"
        );
    }
    // Each knob reaches the function that reads it.
    for (binary, variable, parameter) in [
        (
            "registration",
            env_names::MIN_REFRESH_INTERVAL_MINUTES,
            "MinRefreshIntervalMinutes",
        ),
        ("delivery", env_names::RETRY_SCHEDULE, "RetrySchedule"),
        ("delivery", env_names::MAX_RECEIVE_COUNT, "MaxReceiveCount"),
        (
            "delivery",
            env_names::CALLBACK_TIMEOUT_SECONDS,
            "CallbackTimeoutSeconds",
        ),
        (
            "delivery",
            env_names::ALLOW_LOOPBACK_CALLBACKS,
            "AllowLoopbackCallbacks",
        ),
        (
            "registration",
            env_names::ALLOW_LOOPBACK_CALLBACKS,
            "AllowLoopbackCallbacks",
        ),
        (
            "registration",
            env_names::REQUIRE_HTTPS_CALLBACKS,
            "RequireHttpsCallbacks",
        ),
        (
            "registration",
            env_names::API_CREDENTIALS_SECRET_ID,
            "ApiCredentialsSecretName",
        ),
        (
            "registration",
            env_names::API_CREDENTIALS_TTL_SECONDS,
            "ApiCredentialsTtlSeconds",
        ),
        ("poller", env_names::SAGE_API_URL, "SageApiUrl"),
        ("poller", env_names::SAGE_TOKEN_URL, "SageTokenUrl"),
        ("poller", env_names::SAGE_REVOKE_URL, "SageRevokeUrl"),
        ("registration", env_names::SAGE_TOKEN_URL, "SageTokenUrl"),
        ("poller", env_names::SECRET_PREFIX, "SecretPrefix"),
        ("poller", env_names::LOG_LEVEL, "LogLevel"),
    ] {
        let env = function(&t, binary).environment();
        assert_eq!(
            env.get(variable).map(String::as_str),
            Some(reference(parameter).as_str()),
            "{binary} {variable}"
        );
    }
}

#[test]
fn timeouts_and_memory_fit_each_trigger() {
    let t = template();
    let poller = function(&t, "poller");
    assert_eq!(poller.number("Timeout"), Some(900));
    assert_eq!(poller.number("MemorySize"), Some(256));
    // API Gateway cuts an integration off at 30 s.
    assert_eq!(function(&t, "registration").number("Timeout"), Some(29));
    assert_eq!(function(&t, "delivery").number("Timeout"), Some(60));
}

#[test]
fn delivery_consumes_the_event_queue_with_partial_batch_failures() {
    let t = template();
    let queue = env_target(&t, "delivery", env_names::EVENT_QUEUE_URL);
    assert_eq!(
        env_target(&t, "poller", env_names::EVENT_QUEUE_URL),
        queue,
        "poller and delivery must share the event queue"
    );
    let sqs_events: Vec<_> = t
        .functions()
        .iter()
        .flat_map(|f| f.events().into_iter().map(move |e| (f.binary(), e)))
        .filter(|(_, e)| e.kind == "SQS")
        .collect();
    assert_eq!(sqs_events.len(), 1, "exactly one SQS event source");
    let (binary, event) = sqs_events[0];
    assert_eq!(binary, Some("delivery"));
    assert_eq!(
        event.property("Queue").map(render),
        Some(reference(&format!("{queue}.Arn")))
    );
    assert_eq!(
        event.property("BatchSize").map(render).as_deref(),
        Some("10")
    );
    let response_types = event.property("FunctionResponseTypes").map(render);
    assert_eq!(response_types.as_deref(), Some("[ReportBatchItemFailures]"));
}

#[test]
fn event_queue_redrives_after_the_max_receive_count_parameter() {
    let t = template();
    let queue_id = env_target(&t, "delivery", env_names::EVENT_QUEUE_URL);
    let dlq_id = env_target(&t, "delivery", env_names::DEAD_LETTER_QUEUE_URL);
    assert_ne!(queue_id, dlq_id);
    let queue = t.resource(&queue_id).expect("event queue resource");
    assert_eq!(queue.kind, "AWS::SQS::Queue");
    let redrive = |key: &str| queue.property_path(&["RedrivePolicy", key]).map(render);
    assert_eq!(
        redrive("maxReceiveCount"),
        Some(reference("MaxReceiveCount"))
    );
    assert_eq!(
        redrive("deadLetterTargetArn"),
        Some(reference(&format!("{dlq_id}.Arn")))
    );
    // Delivery knows the same count, to tell its last attempt.
    let env = function(&t, "delivery").environment();
    assert_eq!(
        env.get(env_names::MAX_RECEIVE_COUNT),
        Some(&reference("MaxReceiveCount"))
    );
}

#[test]
fn visibility_timeout_is_at_least_six_times_the_delivery_timeout() {
    let t = template();
    let queue_id = env_target(&t, "delivery", env_names::EVENT_QUEUE_URL);
    let queue = t.resource(&queue_id).expect("event queue");
    let visibility = queue
        .property("VisibilityTimeout")
        .and_then(|v| v.as_integer())
        .expect("an explicit VisibilityTimeout (the default 30 s is too short)");
    let timeout = function(&t, "delivery").number("Timeout").expect("Timeout");
    assert!(
        visibility >= 6 * timeout,
        "VisibilityTimeout {visibility} < 6 x delivery Timeout {timeout}"
    );
}

#[test]
fn queues_keep_messages_fourteen_days_encrypted() {
    let t = template();
    for variable in [env_names::EVENT_QUEUE_URL, env_names::DEAD_LETTER_QUEUE_URL] {
        let id = env_target(&t, "delivery", variable);
        let queue = t.resource(&id).expect("queue");
        let value = |name: &str| queue.property(name).map(render);
        assert_eq!(
            value("MessageRetentionPeriod").as_deref(),
            Some("1209600"),
            "{id}"
        );
        assert_eq!(
            value("SqsManagedSseEnabled").as_deref(),
            Some("true"),
            "{id}"
        );
    }
}

#[test]
fn registration_serves_every_instances_route() {
    let t = template();
    let mut routes = BTreeSet::new();
    for f in t.functions() {
        for e in f.events().into_iter().filter(|e| e.kind == "HttpApi") {
            assert_eq!(
                f.binary(),
                Some("registration"),
                "route {} on {}",
                e.name,
                f.id()
            );
            let api = e.property("ApiId").map(render).expect("ApiId");
            let kind = t.resource(id_of(&api)).map(|r| r.kind);
            assert_eq!(kind, Some("AWS::Serverless::HttpApi"), "{}", e.name);
            assert_eq!(
                e.property("PayloadFormatVersion").map(render).as_deref(),
                Some("2.0"),
                "{}",
                e.name
            );
            let method = e.property("Method").map(render).unwrap_or_default();
            let path = e.property("Path").map(render).unwrap_or_default();
            assert!(
                routes.insert((method, path)),
                "duplicate route in {}",
                e.name
            );
        }
    }
    let expected: BTreeSet<(String, String)> = [
        ("POST", "/instances"),
        ("GET", "/instances"),
        ("GET", "/instances/{id}"),
        ("PATCH", "/instances/{id}"),
        ("DELETE", "/instances/{id}"),
        ("PUT", "/instances/{id}/enabled"),
        ("DELETE", "/instances/{id}/enabled"),
        ("POST", "/instances/{id}/poll"),
        ("POST", "/instances/{id}/reauthorize"),
    ]
    .iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    assert_eq!(routes, expected);
}

#[test]
fn table_is_on_demand_with_recovery_and_the_deletion_protection_parameter() {
    let t = template();
    let table_id = env_target(&t, "poller", env_names::TABLE_NAME);
    for (binary, _) in FUNCTIONS {
        assert_eq!(env_target(&t, binary, env_names::TABLE_NAME), table_id);
    }
    let table = t.resource(&table_id).expect("table");
    assert_eq!(table.kind, "AWS::DynamoDB::Table");
    let value = |path: &[&str]| table.property_path(path).map(render);
    assert_eq!(value(&["BillingMode"]).as_deref(), Some("PAY_PER_REQUEST"));
    assert_eq!(
        value(&[
            "PointInTimeRecoverySpecification",
            "PointInTimeRecoveryEnabled"
        ])
        .as_deref(),
        Some("true")
    );
    assert_eq!(
        value(&["DeletionProtectionEnabled"]),
        Some(reference("TableDeletionProtection"))
    );
    assert_eq!(
        value(&["KeySchema"]).as_deref(),
        Some("[{AttributeName: pk, KeyType: HASH}, {AttributeName: sk, KeyType: RANGE}]")
    );
    let gsi = value(&["GlobalSecondaryIndexes"]).unwrap_or_default();
    for part in [
        "IndexName: gsi1",
        "gsi1pk, KeyType: HASH",
        "gsi1sk, KeyType: RANGE",
        "ALL",
    ] {
        assert!(gsi.contains(part), "gsi1 lacks {part}: {gsi}");
    }
    // Leases compare their expiry in conditions; a TTL attribute would only mislead.
    assert!(table.property("TimeToLiveSpecification").is_none());
}

#[test]
fn poller_role_can_poll_and_nothing_of_registration() {
    let t = template();
    let grants = Grants::of_function(&t, "poller");
    let table = format!(
        "${{{}.Arn}}",
        env_target(&t, "poller", env_names::TABLE_NAME)
    );
    let queue = format!(
        "${{{}.Arn}}",
        env_target(&t, "poller", env_names::EVENT_QUEUE_URL)
    );
    for action in [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
    ] {
        grants.assert_can(action, &table);
    }
    for action in [
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
    ] {
        grants.assert_can(action, INSTANCE_SECRETS);
    }
    grants.assert_can("sqs:SendMessage", &queue);
    grants.assert_only(&[
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
        "sqs:SendMessage",
    ]);
    for action in [
        "scheduler:CreateSchedule",
        "scheduler:UpdateSchedule",
        "scheduler:DeleteSchedule",
        "iam:PassRole",
        "secretsmanager:CreateSecret",
        "secretsmanager:DeleteSecret",
        "lambda:InvokeFunction",
        "dynamodb:Query",
        "dynamodb:Scan",
    ] {
        grants.assert_cannot(action);
    }
    assert!(
        !grants.mentions("ApiCredentialsSecretName"),
        "poller reads API credentials"
    );
    // The event queue only: the poller never writes to the dead-letter queue.
    assert_eq!(grants.resources("sqs:SendMessage"), BTreeSet::from([queue]));
}

#[test]
fn delivery_role_can_deliver_and_nothing_more() {
    let t = template();
    let grants = Grants::of_function(&t, "delivery");
    let table = format!(
        "${{{}.Arn}}",
        env_target(&t, "delivery", env_names::TABLE_NAME)
    );
    let queue = format!(
        "${{{}.Arn}}",
        env_target(&t, "delivery", env_names::EVENT_QUEUE_URL)
    );
    let dlq = format!(
        "${{{}.Arn}}",
        env_target(&t, "delivery", env_names::DEAD_LETTER_QUEUE_URL)
    );
    grants.assert_can("dynamodb:GetItem", &table);
    grants.assert_can("dynamodb:UpdateItem", &table);
    grants.assert_can("secretsmanager:GetSecretValue", INSTANCE_SECRETS);
    // The event source mapping's needs, and the retry delay.
    for action in [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ChangeMessageVisibility",
    ] {
        grants.assert_can(action, &queue);
    }
    // Explicit dead-lettering goes to the DLQ only — never back onto the event queue.
    assert_eq!(grants.resources("sqs:SendMessage"), BTreeSet::from([dlq]));
    grants.assert_only(&[
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "secretsmanager:GetSecretValue",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ChangeMessageVisibility",
        "sqs:SendMessage",
    ]);
    assert!(!grants.mentions("ApiCredentialsSecretName"));
}

#[test]
fn registration_role_is_confined_to_this_stacks_schedules_secrets_and_poller() {
    let t = template();
    let grants = Grants::of_function(&t, "registration");
    let group = env_target(&t, "registration", env_names::SCHEDULE_GROUP);
    assert_eq!(
        t.resource(&group).map(|r| r.kind),
        Some("AWS::Scheduler::ScheduleGroup")
    );
    for action in [
        "scheduler:CreateSchedule",
        "scheduler:UpdateSchedule",
        "scheduler:DeleteSchedule",
        "scheduler:GetSchedule",
    ] {
        let resources = grants.resources(action);
        assert!(!resources.is_empty(), "registration needs {action}");
        let in_group = format!(":schedule/${{{group}}}/");
        for r in &resources {
            assert!(r.contains(&in_group), "{action} on {r}, outside the group");
        }
    }
    let scheduler_role = env_target(&t, "registration", env_names::SCHEDULER_ROLE_ARN);
    let pass: Vec<&Statement> = grants
        .statements
        .iter()
        .filter(|s| s.allows("iam:PassRole"))
        .collect();
    assert!(
        !pass.is_empty(),
        "registration must pass the scheduler role"
    );
    for s in pass {
        assert_eq!(s.resources, [reference(&format!("{scheduler_role}.Arn"))]);
        assert!(
            s.condition
                .contains("iam:PassedToService: scheduler.amazonaws.com"),
            "PassRole without iam:PassedToService: {}",
            s.condition
        );
    }
    let poller = env_target(&t, "registration", env_names::POLLER_FUNCTION_ARN);
    assert_eq!(
        grants.resources("lambda:InvokeFunction"),
        BTreeSet::from([reference(&format!("{poller}.Arn"))])
    );
    for action in [
        "secretsmanager:CreateSecret",
        "secretsmanager:PutSecretValue",
        "secretsmanager:DeleteSecret",
    ] {
        assert_eq!(
            grants.resources(action),
            BTreeSet::from([INSTANCE_SECRETS.to_owned()]),
            "{action}"
        );
    }
    let credentials = grants
        .resources("secretsmanager:GetSecretValue")
        .into_iter()
        .filter(|r| r != INSTANCE_SECRETS)
        .collect::<Vec<_>>();
    assert_eq!(
        credentials,
        [
            "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${ApiCredentialsSecretName}-??????"
        ],
        "registration reads the API credentials secret and nothing else outside the prefix"
    );
    let table = env_target(&t, "registration", env_names::TABLE_NAME);
    grants.assert_can("dynamodb:Query", &format!("${{{table}.Arn}}/index/gsi1"));
    for action in [
        "dynamodb:PutItem",
        "dynamodb:GetItem",
        "dynamodb:DeleteItem",
    ] {
        grants.assert_can(action, &format!("${{{table}.Arn}}"));
    }
    grants.assert_cannot("dynamodb:Scan");
    grants.assert_cannot("sqs:SendMessage");
}

#[test]
fn scheduler_role_only_invokes_the_poller() {
    let t = template();
    let role = env_target(&t, "registration", env_names::SCHEDULER_ROLE_ARN);
    let poller = env_target(&t, "registration", env_names::POLLER_FUNCTION_ARN);
    assert_eq!(
        t.function_by_binary("poller").map(|f| f.id().to_owned()),
        Some(poller.clone()),
        "POLLER_FUNCTION_ARN names the poller"
    );
    let grants = Grants::of_role(&t, &role);
    grants.assert_only(&["lambda:InvokeFunction"]);
    assert_eq!(
        grants.resources("lambda:InvokeFunction"),
        BTreeSet::from([reference(&format!("{poller}.Arn"))])
    );
    let trust = t.trust_statements(&role);
    assert_eq!(trust.len(), 1, "one trust statement");
    let node = t
        .resource(&role)
        .and_then(|r| r.property_path(&["AssumeRolePolicyDocument"]))
        .map(render)
        .unwrap_or_default();
    assert!(node.contains("Service: scheduler.amazonaws.com"), "{node}");
    assert!(
        trust[0]
            .condition
            .contains("aws:SourceAccount: ${AWS::AccountId}"),
        "confused-deputy guard missing: {}",
        trust[0].condition
    );
}

#[test]
fn no_iam_wildcard_without_a_marked_reason() {
    let t = template();
    let statements = t.all_statements();
    assert!(!statements.is_empty());
    for s in &statements {
        let sid = s.sid.clone().unwrap_or_default();
        assert!(
            !s.has_wildcard_action(),
            "{} {sid}: wildcard action {:?}",
            s.owner,
            s.actions
        );
        if s.has_wildcard_resource() {
            assert!(
                !sid.is_empty() && t.wildcard_justified(&sid),
                "{}: statement {sid:?} has Resource \"*\" without a Sid and a `{}` comment above it",
                s.owner,
                template_check::template::WILDCARD_MARKER
            );
        } else {
            // Everything else names this stack's resources or parameters.
            for r in &s.resources {
                assert!(
                    r.contains("${"),
                    "{} {sid}: {r} is not this stack's",
                    s.owner
                );
            }
        }
    }
    for role in t.resources_of_type("AWS::IAM::Role") {
        assert!(
            t.managed_policy_arns(role.id).is_empty(),
            "{}: managed policies are outside this review",
            role.id
        );
    }
}

#[test]
fn every_function_logs_to_its_own_log_group_with_retention() {
    let t = template();
    let mut groups = BTreeMap::new();
    for (binary, _) in FUNCTIONS {
        let f = function(&t, binary);
        let group = f
            .setting("LoggingConfig")
            .and_then(|c| c.as_mapping_get("LogGroup"))
            .map(render)
            .unwrap_or_else(|| panic!("{binary}: LoggingConfig.LogGroup"));
        let group = id_of(&group).to_owned();
        let resource = t.resource(&group).expect("log group resource");
        assert_eq!(resource.kind, "AWS::Logs::LogGroup");
        assert!(
            resource.property("RetentionInDays").is_some(),
            "{group} retention"
        );
        Grants::of_function(&t, binary)
            .assert_can("logs:PutLogEvents", &format!("${{{group}.Arn}}"));
        assert!(groups.insert(group, binary).is_none(), "shared log group");
    }
}

#[test]
fn alarms_watch_the_dead_letter_queue_and_function_errors() {
    let t = template();
    let alarms: Vec<String> = t
        .resources_of_type("AWS::CloudWatch::Alarm")
        .iter()
        .map(|a| {
            let p = |name: &str| a.property(name).map(render).unwrap_or_default();
            format!(
                "{} {} {} {} {}",
                p("Namespace"),
                p("MetricName"),
                p("Dimensions"),
                p("ComparisonOperator"),
                p("Threshold")
            )
        })
        .collect();
    let dlq = env_target(&t, "delivery", env_names::DEAD_LETTER_QUEUE_URL);
    let poller = function(&t, "poller").id();
    let delivery = function(&t, "delivery").id();
    for expected in [
        format!(
            "AWS/SQS ApproximateNumberOfMessagesVisible [{{Name: QueueName, Value: ${{{dlq}.QueueName}}}}] GreaterThanThreshold 0"
        ),
        format!(
            "AWS/Lambda Errors [{{Name: FunctionName, Value: ${{{poller}}}}}] GreaterThanThreshold 0"
        ),
        format!(
            "AWS/Lambda Errors [{{Name: FunctionName, Value: ${{{delivery}}}}}] GreaterThanThreshold 0"
        ),
    ] {
        assert!(
            alarms.contains(&expected),
            "no alarm `{expected}` in {alarms:#?}"
        );
    }
}

#[test]
fn outputs_name_what_operators_need() {
    let t = template();
    let outputs = t.section("Outputs").expect("Outputs");
    for name in [
        "ApiUrl",
        "EventQueueUrl",
        "DeadLetterQueueUrl",
        "TableName",
        "ScheduleGroupName",
    ] {
        assert!(outputs.as_mapping_get(name).is_some(), "output {name}");
    }
}
