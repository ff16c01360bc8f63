//! Citus (distributed PostgreSQL) under the push-down tests, by hand:
//! scripts/test-citus sets `ACCESSWATCH_PG_CITUS=1` (Citus is not in
//! Debian, so CI cannot install it, and without the variable nothing here
//! runs). Then every test server preloads Citus, the suite's server is the
//! coordinator of a cluster with two worker nodes (servers of their own,
//! reached over their Unix sockets, trust), and [`distribute`] spreads a
//! test database's tables over the workers. The coordinator logs the plan
//! of every statement run in such a database (`auto_explain`), which
//! [`plans`] reads back.

use std::sync::{Mutex, OnceLock};

use crate::postgres::{PgServer, server};

/// Whether the tests run on Citus (`ACCESSWATCH_PG_CITUS=1`).
pub(crate) fn enabled() -> bool {
    std::env::var_os("ACCESSWATCH_PG_CITUS").is_some_and(|v| v == "1")
}

/// The two worker nodes, started on first use.
fn workers() -> &'static [PgServer; 2] {
    static WORKERS: OnceLock<[PgServer; 2]> = OnceLock::new();
    WORKERS.get_or_init(|| [PgServer::start(), PgServer::start()])
}

/// A Unix socket directory as an SQL literal.
fn socket(server: &PgServer) -> String {
    format!("'{}'", server.socket_dir.display())
}

/// Makes `database` (created on the coordinator, its tables made) a Citus
/// database of the cluster and distributes each `(table, column)` by hash
/// of the column (32 shards, spread over both workers). Checks that every
/// table has shards on both workers and none on the coordinator.
pub(crate) fn distribute(database: &str, tables: &[(&str, &str)]) {
    // One at a time: two databases set up at once (tests on threads of one
    // process) can update the same row of a worker's shared catalogs, and
    // one fails ("tuple concurrently updated", seen in
    // create_distributed_table, which also creates the tables' owner and
    // schema on the workers).
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let coordinator = server();
    for worker in workers() {
        worker.database(database, "");
        worker.sql(database, "postgres", "CREATE EXTENSION citus");
    }
    let superuser = |sql: &str| coordinator.sql(database, "postgres", sql);
    superuser("CREATE EXTENSION citus");
    superuser(&format!(
        "SELECT citus_set_coordinator_host({}, {})",
        socket(coordinator),
        coordinator.port
    ));
    for worker in workers() {
        superuser(&format!(
            "SELECT citus_add_node({}, {})",
            socket(worker),
            worker.port
        ));
    }
    for (table, column) in tables {
        superuser(&format!(
            "SELECT create_distributed_table('{table}', '{column}')"
        ));
    }
    // Every later session in this database logs its statements' plans.
    superuser(&format!(
        "ALTER DATABASE {database} SET session_preload_libraries = 'auto_explain'"
    ));
    superuser(&format!(
        "ALTER DATABASE {database} SET auto_explain.log_min_duration = 0"
    ));
    superuser(&format!(
        "ALTER DATABASE {database} SET citus.explain_all_tasks = on"
    ));
    for (table, _) in tables {
        let nodes = coordinator.query(
            database,
            &format!(
                "SELECT string_agg(DISTINCT nodename || ':' || nodeport, ' ' ORDER BY nodename \
                 || ':' || nodeport) FROM citus_shards WHERE table_name = '{table}'::regclass"
            ),
        );
        let mut expected: Vec<String> = workers()
            .iter()
            .map(|w| format!("{}:{}", w.socket_dir.display(), w.port))
            .collect();
        expected.sort();
        assert_eq!(nodes, expected.join(" "), "shards of {table}");
    }
}

/// The plans the coordinator logged for statements in `database` whose
/// text contains `needle`, each as its log entry (the query's text, then
/// the plan), oldest first.
pub(crate) fn plans(database: &str, needle: &str) -> Vec<String> {
    let log = std::fs::read_to_string(&server().log).unwrap();
    // An entry is a line with the log prefix and the tab-led lines after it.
    let mut entries: Vec<String> = Vec::new();
    for line in log.lines() {
        match entries.last_mut() {
            Some(entry) if line.starts_with('\t') => {
                entry.push('\n');
                entry.push_str(line);
            }
            _ => entries.push(line.to_owned()),
        }
    }
    let node = format!("dbname={database}");
    entries
        .into_iter()
        .filter(|e| e.contains("  plan:") && e.contains(needle) && e.contains(&node))
        .collect()
}

/// Asserts that `plan` (from [`plans`]) ran as one distributed query with
/// a task on each of the 32 shards, on both workers, each task
/// aggregating its shard's rows, and nothing computed in advance into the
/// coordinator (no distributed subplan).
pub(crate) fn assert_counted_on_the_workers(plan: &str) {
    assert!(plan.contains("Custom Scan (Citus Adaptive)"), "{plan}");
    assert!(plan.contains("Task Count: 32"), "{plan}");
    assert!(plan.contains("Tasks Shown: All"), "{plan}");
    assert!(!plan.contains("Distributed Subplan"), "{plan}");
    let tasks: Vec<&str> = plan.split("->  Task\n").skip(1).collect();
    assert_eq!(tasks.len(), 32, "{plan}");
    for worker in workers() {
        let node = format!(
            "Node: host={} port={} ",
            worker.socket_dir.display(),
            worker.port
        );
        assert!(
            tasks.iter().any(|task| task.contains(&node)),
            "no task on {node}: {plan}"
        );
    }
    for task in tasks {
        // The task's node line, then its plan's top node.
        let top = task.lines().nth(1).unwrap_or_default().trim_start();
        assert!(
            top.starts_with("->  ") && top.contains("Aggregate"),
            "a task that does not aggregate: {task}"
        );
    }
}
