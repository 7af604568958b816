//! Start-up of the local cloud, in dependency order: bind the port (so the
//! functions' own Step Functions endpoint is known), read the template,
//! create the tables and queues, build the functions from their template
//! environments, load the state machine with its substitutions, start the
//! HTTP server, the SQS pollers, the schedules and the event bus, then
//! report ready.
//!
//! [`Cloud`] is the shared state every HTTP handler sees.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use asl::{Clock, Definition, Engine, ExecutionDescription, StateMachineRef};
use chrono::{DateTime, Utc};
use saga_aws::DynamoInventory;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::aws::{Clients, Endpoints};
use crate::faults::Faults;
use crate::functions::Functions;
use crate::http_api::Route;
use crate::jwt::DevTokens;
use crate::tasks::LocalTasks;
use crate::{event_bus, poller, provision, schedules, server};
use saga_template::TableSpec;
use saga_template::stack;
use saga_template::{LocalNames, Template, scalar_text};

/// The issuer of local dev tokens (the template's `JwtIssuer` locally).
pub const LOCAL_ISSUER: &str = "saga-local";
/// The audience of local dev tokens (the template's `JwtAudience` locally).
pub const LOCAL_AUDIENCE: &str = "saga-local";

/// How to run the local cloud.
#[derive(Debug, Clone)]
pub struct Options {
    /// `template.yaml`.
    pub template: PathBuf,
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// DynamoDB Local's endpoint.
    pub dynamodb_endpoint: String,
    /// moto's endpoint.
    pub sqs_endpoint: String,
    /// Stack name: prefixes every table, queue and function name.
    pub stack_name: String,
    /// Template parameter overrides.
    pub parameters: BTreeMap<String, Value>,
    /// Variables set in every function's environment over the template's
    /// values (`--function-env`).
    pub function_environment: BTreeMap<String, String>,
    /// Seed the demo catalog.
    pub seed_demo: bool,
    /// Replaces every schedule's period (tests: run the reaper often).
    pub schedule_every: Option<Duration>,
    /// Runs the state machine's waits, retries, heartbeats and timeouts,
    /// and the polled queues' visibility timeouts, this many times faster.
    pub time_scale: f64,
}

/// A wall clock whose delays are `scale` times shorter. Timestamps stay
/// real, so the functions (which read the wall clock) agree with them.
#[derive(Debug, Clone, Copy)]
pub struct ScaledClock {
    scale: f64,
}

impl Clock for ScaledClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        Box::pin(tokio::time::sleep(duration.div_f64(self.scale)))
    }
}

/// A state machine the endpoint serves.
pub struct Machine {
    /// What the engine runs.
    pub reference: StateMachineRef,
    /// The definition as deployed (substitutions applied).
    pub definition_text: String,
}

/// A queue of the stack.
#[derive(Debug, Clone)]
pub struct QueueInfo {
    /// Logical id.
    pub logical_id: String,
    /// Name.
    pub name: String,
    /// URL.
    pub url: String,
    /// ARN.
    pub arn: String,
    /// When this is a dead-letter queue: the URL of the queue it serves.
    pub dead_letter_source: Option<String>,
    /// When this is a function's on-failure destination: that function's
    /// logical id (its messages are Lambda invocation records).
    pub failed_events_of: Option<String>,
}

impl QueueInfo {
    /// Whether it holds what failed elsewhere: a queue's dead letters or a
    /// function's failed events.
    pub fn is_dead_letter_queue(&self) -> bool {
        self.dead_letter_source.is_some() || self.failed_events_of.is_some()
    }
}

/// The shared state of the running local cloud. Its parts are the crate's
/// own business: the server's modules (Step Functions, HTTP API, Lambda
/// Invoke API, local endpoints, console) each read what they serve, and
/// nothing outside the crate reaches into it.
pub struct Cloud {
    /// The executions.
    pub(crate) engine: Arc<Engine>,
    /// State machines.
    pub(crate) machines: Vec<Machine>,
    /// Functions.
    pub(crate) functions: Arc<Functions>,
    /// Fault injection.
    pub(crate) faults: Arc<Faults>,
    /// SDK clients to the emulators.
    pub(crate) clients: Clients,
    /// The JWT authorizer's key.
    pub(crate) tokens: DevTokens,
    /// HTTP API routes.
    pub(crate) routes: Vec<Route>,
    /// Queues.
    pub(crate) queues: Vec<QueueInfo>,
    /// Tables.
    pub(crate) tables: Vec<TableSpec>,
    /// The inventory store, for the local stock endpoints.
    pub(crate) inventory: Option<DynamoInventory>,
    /// When the cloud started.
    pub(crate) started_at: DateTime<Utc>,
    /// `http://127.0.0.1:<port>`.
    pub(crate) base_url: String,
    /// The port of `base_url`: requests must name it in `Host`.
    pub(crate) port: u16,
    /// The token every console form carries.
    pub(crate) console_csrf: crate::console::CsrfToken,
    /// Set once everything runs.
    pub(crate) ready: AtomicBool,
    redrive_dates: Mutex<HashMap<String, DateTime<Utc>>>,
    /// Callbacks for tokens a test waits on (`/local/task-tokens`), with
    /// everything received so far.
    task_waits: Mutex<HashMap<String, TaskWait>>,
}

/// A token waited on from outside any execution, and what arrived for it.
struct TaskWait {
    receiver: tokio::sync::mpsc::UnboundedReceiver<asl::tokens::TokenMessage>,
    received: Vec<asl::tokens::TokenMessage>,
}

impl Cloud {
    /// Stands in for a Task state waiting on `token`, so a worker's
    /// `SendTaskSuccess` / `SendTaskFailure` with it is accepted (see
    /// [`Cloud::task_callbacks`]); a wait of its own on the same token starts
    /// afresh. `false` when an execution's task waits on that token: it is
    /// never taken over.
    pub fn wait_on_token(&self, token: &str) -> bool {
        let mut waits = self
            .task_waits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if waits.remove(token).is_some() {
            self.engine.stop_waiting_on_token(token);
        }
        let Some(issued) = self.engine.wait_on_token(token) else {
            return false;
        };
        let wait = TaskWait {
            receiver: issued.receiver,
            received: Vec::new(),
        };
        waits.insert(token.to_owned(), wait);
        true
    }

    /// Every callback received so far for a token of [`Cloud::wait_on_token`],
    /// oldest first; `None` when nobody waits on it.
    pub fn task_callbacks(&self, token: &str) -> Option<Vec<asl::tokens::TokenMessage>> {
        let mut waits = self
            .task_waits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let wait = waits.get_mut(token)?;
        while let Ok(message) = wait.receiver.try_recv() {
            wait.received.push(message);
        }
        Some(wait.received.clone())
    }

    /// The physical name of the template's table `logical_id`.
    pub fn table_name(&self, logical_id: &str) -> Option<&str> {
        self.tables
            .iter()
            .find(|table| table.logical_id == logical_id)
            .map(|table| table.name.as_str())
    }

    /// The state machine with `arn`.
    pub fn machine(&self, arn: &str) -> Option<&Machine> {
        self.machines.iter().find(|m| m.reference.arn == arn)
    }

    /// Every execution, newest first.
    pub fn executions(&self) -> Vec<ExecutionDescription> {
        let mut all: Vec<ExecutionDescription> = self
            .engine
            .execution_arns()
            .iter()
            .filter_map(|arn| self.engine.describe(arn).ok())
            .collect();
        all.sort_by(|a, b| {
            b.start_date
                .cmp(&a.start_date)
                .then_with(|| a.execution_arn.cmp(&b.execution_arn))
        });
        all
    }

    /// Redrives an execution and records when.
    pub fn redrive(&self, arn: &str) -> Result<DateTime<Utc>, asl::EngineError> {
        // The redrive's tasks hang from its own attempt span, set before it
        // runs (and set back if it does not).
        let attempt = self.engine.describe(arn)?.redrive_count;
        crate::traces::store().set_attempt(arn, attempt + 1);
        if let Err(error) = self.engine.redrive(arn) {
            crate::traces::store().set_attempt(arn, attempt);
            return Err(error);
        }
        let now = Utc::now();
        self.redrive_dates
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(arn.to_owned(), now);
        Ok(now)
    }

    /// When an execution was last redriven.
    pub fn redrive_date(&self, arn: &str) -> Option<DateTime<Utc>> {
        self.redrive_dates
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(arn)
            .copied()
    }

    /// Whether start-up finished.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

/// A running local cloud.
pub struct RunningCloud {
    /// Where it listens.
    pub address: SocketAddr,
    /// Its shared state.
    pub cloud: Arc<Cloud>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningCloud {
    /// Stops the server, the pollers and the schedules, and waits for them.
    pub async fn stop(self) {
        self.shutdown.send_replace(true);
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

/// Starts the local cloud: binds its port, provisions the template's tables
/// and queues, builds the functions and the engine, then serves and runs the
/// pollers and schedules.
pub async fn start(options: Options) -> Result<RunningCloud> {
    if !(options.time_scale >= 1.0 && options.time_scale.is_finite()) {
        bail!(
            "--time-scale must be a number >= 1, got {}",
            options.time_scale
        );
    }
    // Bound first: the functions' Step Functions endpoint is this address.
    let listener = TcpListener::bind(("127.0.0.1", options.port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", options.port))?;
    let address = listener
        .local_addr()
        .context("cannot read the bound address")?;
    let base_url = format!("http://{address}");
    let endpoints = Endpoints {
        dynamodb: options.dynamodb_endpoint.clone(),
        sqs: options.sqs_endpoint.clone(),
        sfn: base_url.clone(),
    };
    let clients = Clients::new(&endpoints).await;
    let provisioned = provision_stack(&options, &clients).await?;
    let cloud = Arc::new(assemble(&options, &provisioned, &endpoints, &clients, address).await?);

    let (shutdown, shutdown_receiver) = watch::channel(false);
    let mut tasks = vec![server::spawn(
        listener,
        Arc::clone(&cloud),
        shutdown_receiver.clone(),
    )];
    let background = Background {
        options: &options,
        functions: &cloud.functions,
        shutdown: &shutdown_receiver,
    };
    tasks.extend(background.pollers(
        &provisioned.stack,
        &provisioned.queue_specs,
        &cloud.queues,
        &clients,
    ));
    tasks.extend(background.schedules(&provisioned.stack));
    tasks.push(background.event_bus(&provisioned.stack, &cloud, &clients));
    cloud.ready.store(true, Ordering::Release);
    Ok(RunningCloud {
        address,
        cloud,
        shutdown,
        tasks,
    })
}

/// What provisioning the template gave: the stack resolved to local names,
/// and the tables and queues it created.
struct Provisioned {
    stack: stack::Stack,
    tables: Vec<TableSpec>,
    queue_specs: Vec<stack::QueueSpec>,
    queues: Vec<QueueInfo>,
}

/// Reads the template and creates its tables and queues.
async fn provision_stack(options: &Options, clients: &Clients) -> Result<Provisioned> {
    let template = Template::load(&options.template)?;
    let mut names = local_names(&template, options)?;
    let tables = create_tables(&template, &names, clients).await?;
    // Queues before the rest: their URLs and ARNs are what `!Ref` and
    // `!GetAtt` give the functions' environments and the redrive policies.
    let queue_specs = stack::queues(&template, &names);
    provision::create_queues(&clients.sqs, &queue_specs, &mut names)
        .await
        .context("is moto running at the --sqs-endpoint?")?;
    let mut queues = queue_infos(&queue_specs, &names)?;
    let mut stack = stack::load(&template, &names)?;
    for function in stack.functions.values_mut() {
        function.environment.extend(
            options
                .function_environment
                .iter()
                .map(|(name, value)| (name.clone(), value.clone())),
        );
    }
    for function in stack.functions.values() {
        if let Some(queue) = queues
            .iter_mut()
            .find(|queue| function.on_failure.as_ref() == Some(&queue.arn))
        {
            queue.failed_events_of = Some(function.logical_id.clone());
        }
    }
    Ok(Provisioned {
        stack,
        tables,
        queue_specs,
        queues,
    })
}

/// The shared state: the functions built from the stack, the engine that
/// runs the state machines, the stock store (seeded with the demo catalog
/// when asked), the dev-token key and the routes.
async fn assemble(
    options: &Options,
    provisioned: &Provisioned,
    endpoints: &Endpoints,
    clients: &Clients,
    address: SocketAddr,
) -> Result<Cloud> {
    let Provisioned {
        stack,
        tables,
        queues,
        ..
    } = provisioned;
    let faults = Arc::new(Faults::default());
    let functions = Arc::new(Functions::build(
        &stack.functions,
        &clients.sdk,
        endpoints,
        Arc::clone(&faults),
    )?);
    for missing in functions.missing() {
        tracing::warn!(binary = %missing, "the local cloud has no code for this function; its routes answer 501");
    }
    let engine = Engine::new(
        Arc::new(LocalTasks::new(Arc::clone(&functions), clients.clone())),
        Arc::new(ScaledClock {
            scale: options.time_scale,
        }),
    );
    let inventory = tables
        .iter()
        .find(|table| table.logical_id == INVENTORY_TABLE)
        .map(|table| DynamoInventory::new(clients.dynamodb.clone(), table.name.clone()));
    if options.seed_demo {
        let Some(inventory) = &inventory else {
            bail!("--seed-demo needs the template's {INVENTORY_TABLE}");
        };
        provision::seed_demo_catalog(inventory).await?;
    }
    let jwt = stack.jwt.clone().unwrap_or(stack::JwtAuthorizerSpec {
        issuer: LOCAL_ISSUER.to_owned(),
        audiences: vec![LOCAL_AUDIENCE.to_owned()],
    });
    Ok(Cloud {
        engine,
        machines: machines(stack)?,
        functions,
        faults,
        clients: clients.clone(),
        tokens: DevTokens::generate(&jwt.issuer, &jwt.audiences),
        routes: crate::http_api::routes(&stack.functions),
        queues: queues.clone(),
        tables: tables.clone(),
        inventory,
        started_at: Utc::now(),
        base_url: format!("http://{address}"),
        port: address.port(),
        console_csrf: crate::console::CsrfToken::generate(),
        ready: AtomicBool::new(false),
        redrive_dates: Mutex::new(HashMap::new()),
        task_waits: Mutex::new(HashMap::new()),
    })
}

/// The template's Inventory table: the local stock endpoints and the demo
/// catalog use it.
pub const INVENTORY_TABLE: &str = "InventoryTable";

/// Local names for the template: `--parameter` values over the defaults,
/// and the local dev tokens' issuer and audience for the JWT authorizer
/// unless given.
fn local_names(template: &Template, options: &Options) -> Result<LocalNames> {
    let mut overrides = options.parameters.clone();
    overrides
        .entry("JwtIssuer".to_owned())
        .or_insert_with(|| Value::String(LOCAL_ISSUER.to_owned()));
    overrides
        .entry("JwtAudience".to_owned())
        .or_insert_with(|| Value::Array(vec![Value::String(LOCAL_AUDIENCE.to_owned())]));
    // The local cloud charges through the simulated provider unless told
    // otherwise (`--parameter PaymentProvider=stripe`, with localstripe):
    // the deployed default, Stripe, needs a key and a server.
    overrides
        .entry("PaymentProvider".to_owned())
        .or_insert_with(|| Value::String("simulated".to_owned()));
    overrides.retain(|name, _| template.parameters.contains_key(name));
    let mut names = LocalNames::new(template, &options.stack_name, &overrides)?;
    stack::learn_state_machine_names(template, &mut names)?;
    Ok(names)
}

/// Creates every table of the template (keeping those that exist).
async fn create_tables(
    template: &Template,
    names: &LocalNames,
    clients: &Clients,
) -> Result<Vec<TableSpec>> {
    let tables = saga_template::tables::tables(template, names)?;
    let created = futures::future::join_all(
        tables
            .iter()
            .map(|table| saga_template::create_table(&clients.dynamodb, table)),
    )
    .await;
    for result in created {
        result.context("is DynamoDB Local running at the --dynamodb-endpoint?")?;
    }
    Ok(tables)
}

/// The state machines, parsed once.
fn machines(stack: &stack::Stack) -> Result<Vec<Machine>> {
    stack
        .state_machines
        .iter()
        .map(|spec| {
            let definition = Definition::parse_str(&spec.definition).map_err(|e| {
                anyhow::anyhow!("state machine {} is invalid: {e:?}", spec.logical_id)
            })?;
            Ok(Machine {
                reference: StateMachineRef {
                    arn: spec.arn.clone(),
                    name: spec.name.clone(),
                    definition: Arc::new(definition),
                },
                definition_text: spec.definition.clone(),
            })
        })
        .collect()
}

/// What the background tasks share: the SQS pollers and the schedules.
struct Background<'a> {
    options: &'a Options,
    functions: &'a Arc<Functions>,
    shutdown: &'a watch::Receiver<bool>,
}

impl Background<'_> {
    /// One poller per SQS event source mapping whose function runs here.
    fn pollers(
        &self,
        stack: &stack::Stack,
        queue_specs: &[stack::QueueSpec],
        queues: &[QueueInfo],
        clients: &Clients,
    ) -> Vec<JoinHandle<()>> {
        let mut tasks = Vec::new();
        for mapping in &stack.queue_mappings {
            let (Some(function), Some(queue)) = (
                self.functions.find(&mapping.function),
                queues.iter().find(|q| q.logical_id == mapping.queue),
            ) else {
                tracing::warn!(mapping = %mapping.logical_id, "event source mapping skipped: its function has no code here");
                continue;
            };
            // A faster clock shortens the visibility timeout too, so
            // redeliveries come as much sooner as the retries do.
            let scale = self.options.time_scale;
            let visibility = queue_specs
                .iter()
                .find(|q| q.logical_id == mapping.queue)
                .and_then(|q| q.attributes.get("VisibilityTimeout"))
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|_| scale > 1.0)
                .map(|seconds| (seconds / scale).ceil().max(1.0) as i32);
            tasks.extend(poller::spawn(
                poller::QueueMapping {
                    function: Arc::clone(function),
                    queue_url: queue.url.clone(),
                    queue_arn: queue.arn.clone(),
                    batch_size: mapping.batch_size,
                    report_batch_item_failures: mapping.report_batch_item_failures,
                    concurrency: mapping.maximum_concurrency,
                    visibility_timeout: visibility,
                },
                Arc::clone(self.functions),
                clients.sqs.clone(),
                self.shutdown.clone(),
            ));
        }
        tasks
    }

    /// The engine's status changes, delivered to the functions whose
    /// `EventBridgeRule` events match them.
    fn event_bus(&self, stack: &stack::Stack, cloud: &Cloud, clients: &Clients) -> JoinHandle<()> {
        let mut targets = Vec::new();
        for spec in stack.functions.values() {
            let Some(function) = self.functions.find(&spec.logical_id) else {
                continue;
            };
            // The queue whose `failed_events_of` start-up set from this
            // function's on-failure destination.
            let on_failure_queue_url = cloud
                .queues
                .iter()
                .find(|queue| queue.failed_events_of.as_ref() == Some(&spec.logical_id))
                .map(|queue| queue.url.clone());
            if let (Some(arn), None) = (&spec.on_failure, &on_failure_queue_url) {
                tracing::warn!(function = %spec.logical_id, destination = %arn, "on-failure destination is not a queue of this stack: failed events are only logged");
            }
            for rule in &spec.rules {
                targets.push(event_bus::Target {
                    function: Arc::clone(function),
                    rule: format!("{}/{}", spec.logical_id, rule.name),
                    pattern: rule.pattern.clone(),
                    retries: spec.async_retries,
                    on_failure_queue_url: on_failure_queue_url.clone(),
                });
            }
        }
        let (sender, changes) = tokio::sync::mpsc::unbounded_channel();
        cloud.engine.on_status_change(sender);
        event_bus::spawn(
            changes,
            targets,
            Arc::clone(self.functions),
            clients.sqs.clone(),
            Duration::from_secs(60).div_f64(self.options.time_scale.max(1.0)),
            self.shutdown.clone(),
        )
    }

    /// One timer per schedule of a function that runs here.
    fn schedules(&self, stack: &stack::Stack) -> Vec<JoinHandle<()>> {
        let mut tasks = Vec::new();
        for spec in stack.functions.values() {
            let Some(function) = self.functions.find(&spec.logical_id) else {
                continue;
            };
            for schedule in &spec.schedules {
                let period = self.options.schedule_every.unwrap_or(schedule.every);
                let rule = format!(
                    "{}-{}{}",
                    self.options.stack_name, spec.logical_id, schedule.name
                );
                tasks.push(schedules::spawn(
                    Arc::clone(function),
                    rule,
                    period,
                    Arc::clone(self.functions),
                    self.shutdown.clone(),
                ));
            }
        }
        tasks
    }
}

fn queue_infos(specs: &[stack::QueueSpec], names: &LocalNames) -> Result<Vec<QueueInfo>> {
    let mut infos: Vec<QueueInfo> = specs
        .iter()
        .map(|q| {
            Ok(QueueInfo {
                logical_id: q.logical_id.clone(),
                name: q.name.clone(),
                url: names.attribute(&q.logical_id, "QueueUrl")?,
                arn: names.attribute(&q.logical_id, "Arn")?,
                dead_letter_source: None,
                failed_events_of: None,
            })
        })
        .collect::<Result<_>>()?;
    for spec in specs {
        let Some(policy) = &spec.redrive_policy else {
            continue;
        };
        let resolved = names.resolve(policy)?;
        let target = match &resolved {
            Value::String(text) => serde_json::from_str::<Value>(text)
                .ok()
                .and_then(|v| v.get("deadLetterTargetArn").map(scalar_text)),
            other => other.get("deadLetterTargetArn").map(scalar_text),
        };
        let source_url = names.attribute(&spec.logical_id, "QueueUrl")?;
        if let Some(dlq) = infos.iter_mut().find(|i| Some(&i.arn) == target.as_ref()) {
            dlq.dead_letter_source = Some(source_url);
        }
    }
    Ok(infos)
}
