//! One "deployed stack" per test, built from `template.yaml` rather than restated here:
//! the parameters' defaults (a few overridden, as `sam deploy --parameter-overrides`
//! would), the table, queues and schedule group created in moto from their template
//! definitions, and each function's binary started under its own Runtime API double with
//! exactly the environment the template gives it (`Globals` merged), plus what Lambda
//! itself sets.

use super::moto;
use lambda_e2e::{
    FunctionConfig, FunctionProcess, InvokeApiDouble, RuntimeDouble, build_binaries,
    lambda_reserved_env,
};
use sage_sim::{SageSim, SimConfig};
use saphyr::YamlOwned;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;
use template_check::Template;
use template_check::intrinsic::render;

pub const FUNCTIONS: [&str; 3] = ["registration", "poller", "delivery"];
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";
pub const REDIRECT_URI: &str = "https://mycoolapp.com";
const SEED: &str = include_str!("../../../fixtures/seed-example-instance.json");

pub fn workspace_root() -> PathBuf {
    template_check::workspace_root()
}

/// The three binaries, built once per test binary by the cargo running the tests.
pub fn binaries() -> &'static BTreeMap<String, PathBuf> {
    static BINARIES: OnceLock<BTreeMap<String, PathBuf>> = OnceLock::new();
    BINARIES.get_or_init(|| {
        build_binaries(&workspace_root(), &FUNCTIONS, &FUNCTIONS)
            .unwrap_or_else(|e| panic!("building the Lambda binaries: {e}"))
    })
}

pub fn template() -> &'static Template {
    static TEMPLATE: OnceLock<Template> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        Template::load(&workspace_root().join("template.yaml")).expect("template.yaml")
    })
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{:010x}", rand::random::<u64>() & 0xff_ffff_ffff)
}

fn random_secret() -> String {
    (0..24)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

/// Every `${Name}` in `text` replaced from `refs`; a reference the test does not know is
/// a failure (the template grew something this suite must learn about).
pub fn resolve(text: &str, refs: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').expect("unterminated ${ in template value");
        let name = &after[..end];
        let value = refs
            .get(name)
            .unwrap_or_else(|| panic!("template references ${{{name}}}, unknown to the e2e stack"));
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

fn seq(node: Option<&YamlOwned>) -> Vec<&YamlOwned> {
    node.and_then(YamlOwned::as_sequence)
        .map(|s| s.iter().collect())
        .unwrap_or_default()
}

fn field(node: &YamlOwned, name: &str) -> String {
    node.as_mapping_get(name).map(render).unwrap_or_default()
}

/// The stack's knobs a test may change (template parameter overrides).
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub parameters: Vec<(&'static str, String)>,
    /// Create the API credentials secret before the functions start (default true).
    pub skip_credentials_secret: bool,
}

impl Options {
    pub fn param(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.parameters.push((name, value.into()));
        self
    }
}

pub struct Stack {
    pub sdk: aws_config::SdkConfig,
    pub sim: SageSim,
    pub receiver: callback_receiver::Receiver,
    pub invoke_api: InvokeApiDouble,
    pub parameters: BTreeMap<String, String>,
    /// `${Logical}` / `${Logical.Attr}` → physical value.
    pub refs: BTreeMap<String, String>,
    pub table: String,
    pub event_queue_url: String,
    pub event_queue_arn: String,
    #[allow(dead_code)]
    pub dead_letter_queue_url: String,
    pub schedule_group: String,
    pub poller_arn: String,
    pub scheduler_role_arn: String,
    pub credentials_secret: String,
    pub organization_secret: String,
    pub user_secret: String,
    pub registration: FunctionProcess,
    pub poller: FunctionProcess,
    pub delivery: FunctionProcess,
    /// Spawn → first `next`, per function.
    pub init_times: BTreeMap<String, Duration>,
}

impl Stack {
    pub async fn start(options: Options) -> Stack {
        let binaries = tokio::task::spawn_blocking(binaries)
            .await
            .expect("build thread");
        let template = template();
        let sdk = moto::sdk_config().await;
        let sim = SageSim::start(SimConfig::default())
            .await
            .expect("simulator");
        let receiver = callback_receiver::Receiver::start()
            .await
            .expect("receiver");
        let invoke_api = InvokeApiDouble::start().await.expect("invoke API double");
        let stack_name = unique("e2e");

        // Parameters: the template's defaults, then the overrides a test deploy uses.
        let mut parameters = BTreeMap::new();
        if let Some(YamlOwned::Mapping(map)) = template.section("Parameters") {
            for (name, spec) in map {
                if let Some(name) = name.as_str() {
                    parameters.insert(name.to_owned(), field(spec, "Default"));
                }
            }
        }
        let credentials_secret = format!("{stack_name}/api-credentials");
        for (name, value) in [
            ("SageApiUrl", sim.api_url()),
            ("SageTokenUrl", sim.token_url()),
            ("SageRevokeUrl", sim.revoke_url()),
            ("ApiCredentialsSecretName", credentials_secret.clone()),
            ("SecretPrefix", format!("{stack_name}/instances/")),
            ("AllowLoopbackCallbacks", "true".to_owned()),
            ("TableDeletionProtection", "false".to_owned()),
        ]
        .into_iter()
        .chain(options.parameters.iter().map(|(k, v)| (*k, v.clone())))
        {
            assert!(
                parameters.contains_key(name),
                "template.yaml has no parameter {name}"
            );
            parameters.insert(name.to_owned(), value);
        }

        let mut refs: BTreeMap<String, String> = parameters.clone();
        refs.insert("AWS::Region".into(), REGION.into());
        refs.insert("AWS::AccountId".into(), ACCOUNT.into());
        refs.insert("AWS::Partition".into(), "aws".into());
        refs.insert("AWS::StackName".into(), stack_name.clone());
        refs.insert("AWS::URLSuffix".into(), "amazonaws.com".into());

        // Resources, as CloudFormation would name them.
        let table = create_table(&sdk, &stack_name).await;
        refs.insert("Table".into(), table.clone());
        refs.insert(
            "Table.Arn".into(),
            format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}"),
        );
        create_queues(&sdk, &stack_name, &mut refs).await;
        let schedule_group = format!("{stack_name}-ScheduleGroup");
        aws_sdk_scheduler::Client::new(&sdk)
            .create_schedule_group()
            .name(&schedule_group)
            .send()
            .await
            .expect("create schedule group");
        refs.insert("ScheduleGroup".into(), schedule_group.clone());
        for function in template.functions() {
            let id = function.id();
            refs.insert(
                format!("{id}.Arn"),
                format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{stack_name}-{id}"),
            );
            refs.insert(id.to_owned(), format!("{stack_name}-{id}"));
        }
        for role in template.resources_of_type("AWS::IAM::Role") {
            refs.insert(
                format!("{}.Arn", role.id),
                format!("arn:aws:iam::{ACCOUNT}:role/{stack_name}-{}", role.id),
            );
        }

        let (organization_secret, user_secret) = (random_secret(), random_secret());
        if !options.skip_credentials_secret {
            put_credentials(
                &sdk,
                &credentials_secret,
                &organization_secret,
                &user_secret,
                true,
            )
            .await;
        }

        // The functions.
        let mut processes = BTreeMap::new();
        let mut init_times = BTreeMap::new();
        let mut starting = Vec::new();
        for name in FUNCTIONS {
            let function = template
                .function_by_binary(name)
                .unwrap_or_else(|| panic!("template.yaml has no function for binary {name}"));
            let mut env = lambda_reserved_env(
                &refs[function.id()],
                function.number("MemorySize").unwrap_or(128) as u32,
            );
            for (key, value) in function.environment() {
                env.insert(key, resolve(&value, &refs));
            }
            env.extend(moto::function_aws_env());
            if name == "registration" {
                // "Poll now" goes through the Lambda Invoke API: its double.
                env.insert("AWS_ENDPOINT_URL_LAMBDA".into(), invoke_api.endpoint());
            }
            let arn = refs[&format!("{}.Arn", function.id())].clone();
            let double = RuntimeDouble::start_with(FunctionConfig {
                function_arn: arn.clone(),
                timeout: Duration::from_secs(function.number("Timeout").unwrap_or(3) as u64),
            })
            .await
            .expect("runtime double");
            if name == "poller" {
                invoke_api.register(arn.clone(), double.clone());
            }
            let process = FunctionProcess::spawn(name, &binaries[name], &env, double)
                .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
            starting.push(name);
            processes.insert(name, process);
        }
        for name in starting {
            let process = processes.get_mut(name).expect("spawned");
            let init = process
                .wait_ready(Duration::from_secs(30))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            init_times.insert(name.to_owned(), init);
        }
        let mut take = |name: &str| processes.remove(name).expect("process");
        let (registration, poller, delivery) =
            (take("registration"), take("poller"), take("delivery"));
        Stack {
            poller_arn: refs["PollerFunction.Arn"].clone(),
            scheduler_role_arn: refs["SchedulerRole.Arn"].clone(),
            event_queue_url: refs["EventQueue"].clone(),
            event_queue_arn: refs["EventQueue.Arn"].clone(),
            dead_letter_queue_url: refs["DeadLetterQueue"].clone(),
            sdk,
            sim,
            receiver,
            invoke_api,
            parameters,
            refs,
            table,
            schedule_group,
            credentials_secret,
            organization_secret,
            user_secret,
            registration,
            poller,
            delivery,
            init_times,
        }
    }

    /// `User …, Organization …` with the stack's current API credentials.
    pub fn authorization(&self) -> String {
        format!(
            "User {}, Organization {}",
            self.user_secret, self.organization_secret
        )
    }

    /// Print the init times where CI logs show them (outside libtest's capture).
    pub fn report_init_times(&self, test: &str) {
        let figures: Vec<String> = self
            .init_times
            .iter()
            .map(|(name, d)| format!("{name} {:.1} ms", d.as_secs_f64() * 1000.0))
            .collect();
        let _ = writeln!(
            std::io::stderr(),
            "cold start (spawn → first Runtime API `next`, debug build) [{test}]: {}",
            figures.join(", ")
        );
    }

    /// A resource property as the template declares it, references resolved.
    pub fn template_property(&self, resource: &str, property: &str) -> String {
        let node = template()
            .resource(resource)
            .and_then(|r| r.property(property))
            .unwrap_or_else(|| panic!("template.yaml has no {resource}.{property}"));
        resolve(&render(node), &self.refs)
    }

    /// Every function's captured output.
    pub fn all_output(&self) -> String {
        [&self.registration, &self.poller, &self.delivery]
            .iter()
            .map(|p| format!("----- {} -----\n{}\n", p.name(), p.output()))
            .collect()
    }

    /// An API Gateway HTTP API (payload 2.0) event, as the `$default` stage sends it.
    pub fn http_event(
        &self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
        body: Option<&str>,
    ) -> Value {
        http_event(method, path, authorization, body)
    }

    /// Invoke registration with an HTTP event; returns `(status, JSON body)`. A function
    /// error fails the test: the API must always answer.
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let event = self.http_event(method, path, authorization, body);
        self.api_event(&event).await
    }

    pub async fn api_event(&self, event: &Value) -> (u16, Value) {
        let result = self
            .registration
            .invoke(event)
            .await
            .unwrap_or_else(|e| panic!("registration: {e}\n{}", self.registration.output()));
        let response = result.json().unwrap_or_else(|| {
            panic!(
                "registration answered a function error {:?} to {event}\n{}",
                result.outcome,
                self.registration.output()
            )
        });
        let status = response["statusCode"].as_u64().expect("statusCode") as u16;
        let body = response["body"]
            .as_str()
            .map(|b| serde_json::from_str(b).expect("JSON body"))
            .unwrap_or(Value::Null);
        if !body.is_null() {
            assert_eq!(
                response["headers"]["content-type"], "application/json",
                "{response}"
            );
        }
        (status, body)
    }

    /// The seed page's example body, with a fresh grant code, the simulator's client and
    /// the receiver as callback (signing key generated by registration).
    pub fn seed_body(&self, refresh_minutes: u32) -> (Value, String) {
        let code = self
            .sim
            .issue_code(sage_sim::DEFAULT_CLIENT_ID, REDIRECT_URI);
        let mut body: Value = serde_json::from_str(SEED).expect("seed JSON");
        body["providerData"]["code"] = json!(code);
        let config = &mut body["configuration"];
        config["oauth.api.key"] = json!(sage_sim::DEFAULT_CLIENT_ID);
        config["oauth.api.secret"] = json!(sage_sim::DEFAULT_CLIENT_SECRET);
        config["oauth.callback.url"] = json!(REDIRECT_URI);
        config["event.notification.callback.url"] = json!(self.receiver.url("/hooks/sage"));
        config["event.poller.refresh_interval"] = json!(refresh_minutes.to_string());
        (body, code)
    }
}

pub fn http_event(
    method: &str,
    path: &str,
    authorization: Option<&str>,
    body: Option<&str>,
) -> Value {
    let (raw_path, query) = path.split_once('?').unwrap_or((path, ""));
    let mut headers = json!({
        "content-type": "application/json",
        "host": "abc123.execute-api.us-east-1.amazonaws.com",
        "user-agent": "lambda-e2e",
    });
    if let Some(authorization) = authorization {
        headers["authorization"] = json!(authorization);
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT, "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com", "domainPrefix": "abc123",
            "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.9", "userAgent": "lambda-e2e"},
            "requestId": unique("req"), "routeKey": "$default", "stage": "$default",
            "time": "01/Dec/2026:20:00:00 +0000", "timeEpoch": 1796155200000u64
        },
        "isBase64Encoded": false
    });
    if let Some(body) = body {
        event["body"] = json!(body);
    }
    event
}

pub async fn put_credentials(
    sdk: &aws_config::SdkConfig,
    name: &str,
    organization: &str,
    user: &str,
    create: bool,
) {
    let value = json!({"organizationSecret": organization, "userSecret": user}).to_string();
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    if create {
        client
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await
            .expect("create the API credentials secret");
    } else {
        client
            .put_secret_value()
            .secret_id(name)
            .secret_string(value)
            .send()
            .await
            .expect("rotate the API credentials secret");
    }
}

/// The `Table` resource of the template, created in moto as declared.
async fn create_table(sdk: &aws_config::SdkConfig, stack_name: &str) -> String {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType,
    };
    let resource = template().resource("Table").expect("template Table");
    assert_eq!(resource.kind, "AWS::DynamoDB::Table");
    let keys = |node: Option<&YamlOwned>| -> Vec<KeySchemaElement> {
        seq(node)
            .into_iter()
            .map(|k| {
                KeySchemaElement::builder()
                    .attribute_name(field(k, "AttributeName"))
                    .key_type(KeyType::from(field(k, "KeyType").as_str()))
                    .build()
                    .expect("key schema")
            })
            .collect()
    };
    let name = format!("{stack_name}-Table");
    let mut request = aws_sdk_dynamodb::Client::new(sdk)
        .create_table()
        .table_name(&name)
        .set_key_schema(Some(keys(resource.property("KeySchema"))))
        .billing_mode(BillingMode::from(
            field(
                resource.node.as_mapping_get("Properties").expect("props"),
                "BillingMode",
            )
            .as_str(),
        ));
    for attribute in seq(resource.property("AttributeDefinitions")) {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(field(attribute, "AttributeName"))
                .attribute_type(ScalarAttributeType::from(
                    field(attribute, "AttributeType").as_str(),
                ))
                .build()
                .expect("attribute"),
        );
    }
    for index in seq(resource.property("GlobalSecondaryIndexes")) {
        let projection = index
            .as_mapping_get("Projection")
            .map(|p| field(p, "ProjectionType"))
            .unwrap_or_default();
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(field(index, "IndexName"))
                .set_key_schema(Some(keys(index.as_mapping_get("KeySchema"))))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(projection.as_str()))
                        .build(),
                )
                .build()
                .expect("gsi"),
        );
    }
    request.send().await.expect("create the table in moto");
    name
}

/// Every `AWS::SQS::Queue` of the template, with its visibility timeout, retention and
/// redrive policy (the dead-letter target resolved to the created queue's ARN).
async fn create_queues(
    sdk: &aws_config::SdkConfig,
    stack_name: &str,
    refs: &mut BTreeMap<String, String>,
) {
    use aws_sdk_sqs::types::QueueAttributeName;
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut queues = template().resources_of_type("AWS::SQS::Queue");
    // Dead-letter targets first.
    queues.sort_by_key(|q| q.property("RedrivePolicy").is_some());
    for queue in queues {
        let name = format!("{stack_name}-{}", queue.id);
        let mut request = sqs.create_queue().queue_name(&name);
        for (property, attribute) in [
            ("VisibilityTimeout", QueueAttributeName::VisibilityTimeout),
            (
                "MessageRetentionPeriod",
                QueueAttributeName::MessageRetentionPeriod,
            ),
        ] {
            if let Some(value) = queue.property(property) {
                request = request.attributes(attribute, resolve(&render(value), refs));
            }
        }
        if let Some(redrive) = queue.property("RedrivePolicy") {
            let target = resolve(&field(redrive, "deadLetterTargetArn"), refs);
            let count: u64 = resolve(&field(redrive, "maxReceiveCount"), refs)
                .parse()
                .expect("maxReceiveCount");
            request = request.attributes(
                QueueAttributeName::RedrivePolicy,
                json!({"deadLetterTargetArn": target, "maxReceiveCount": count}).to_string(),
            );
        }
        let url = request
            .send()
            .await
            .expect("create queue in moto")
            .queue_url()
            .expect("queue url")
            .to_owned();
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("queue attributes")
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
            .expect("queue arn");
        refs.insert(queue.id.to_owned(), url);
        refs.insert(format!("{}.Arn", queue.id), arn);
        refs.insert(format!("{}.QueueName", queue.id), name);
    }
}
