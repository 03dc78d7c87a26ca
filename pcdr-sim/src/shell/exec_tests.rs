//! Whole-shell tests of [`run_shell`]: the exact scripts pcdr-core's
//! `commands::shell` produces, run against an in-memory [`PoolWorld`],
//! checking stdout, stderr, the exit code and the world afterwards.

use super::world::{CmdletFault, PoolState, PoolWorld};
use super::{ShellOutput, quote_single, run_shell};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::Duration;

const POOL: &str = "pchat.contoso.com";

/// `script("SkypeForBusiness", &get_pool_state("service:PersistentChatServer:pchat.contoso.com"))`.
const GET_STATE: &str = "Import-Module 'SkypeForBusiness'; $ErrorActionPreference = 'Stop'; Get-CsPersistentChatState -Identity 'service:PersistentChatServer:pchat.contoso.com' | ConvertTo-Json -Compress";

/// `script(…, &set_pool_state("service:PersistentChatServer:pchat.contoso.com", PoolState::FailedOver))`.
const SET_FAILED_OVER: &str = "Import-Module 'SkypeForBusiness'; $ErrorActionPreference = 'Stop'; Set-CsPersistentChatState -Identity 'service:PersistentChatServer:pchat.contoso.com' -PoolState 'FailedOver' -Confirm:$false | ConvertTo-Json -Compress";

/// `script(…, &set_pool_state("service:PersistentChatServer:pchat.contoso.com", PoolState::Normal))`.
const SET_NORMAL: &str = "Import-Module 'SkypeForBusiness'; $ErrorActionPreference = 'Stop'; Set-CsPersistentChatState -Identity 'service:PersistentChatServer:pchat.contoso.com' -PoolState 'Normal' -Confirm:$false | ConvertTo-Json -Compress";

/// `script(…, &set_active_servers("PersistentChatServer:pchat.contoso.com", &[pc3, pc4]))`.
const REPLACE_ACTIVE: &str = "Import-Module 'SkypeForBusiness'; $ErrorActionPreference = 'Stop'; Set-CsPersistentChatActiveServer -Identity 'PersistentChatServer:pchat.contoso.com' -ActiveServers @{Replace='pc3.contoso.com','pc4.contoso.com'} -Confirm:$false | ConvertTo-Json -Compress";

/// `script(…, &set_active_servers("PersistentChatServer:pchat.contoso.com", &[]))`.
const CLEAR_ACTIVE: &str = "Import-Module 'SkypeForBusiness'; $ErrorActionPreference = 'Stop'; Set-CsPersistentChatActiveServer -Identity 'PersistentChatServer:pchat.contoso.com' -ActiveServers $null -Confirm:$false | ConvertTo-Json -Compress";

/// `script(…, &install_mirror(&MirrorRequest { PersistentChat, "sql-dal.contoso.com", Some("PCHAT"), r"\\fs01\pchat-logs" }))`.
const INSTALL_MIRROR: &str = "Import-Module 'SkypeForBusiness'; $ErrorActionPreference = 'Stop'; Install-CsMirrorDatabase -DatabaseType 'PersistentChat' -SqlServerFqdn 'sql-dal.contoso.com' -SqlInstanceName 'PCHAT' -FileShare '\\\\fs01\\pchat-logs' -DropExistingDatabasesOnMirror -Confirm:$false | ConvertTo-Json -Compress";

/// The prefix every script of pcdr-core starts with.
const PREFIX: &str = "Import-Module 'SkypeForBusiness'; $ErrorActionPreference = 'Stop'; ";

#[derive(Debug)]
struct State {
    pool_state: PoolState,
    active: Vec<String>,
    mirrors: Vec<(String, String, Option<String>)>,
    fault: Option<(String, CmdletFault)>,
    broken: Option<String>,
}

/// An in-memory world: one pool of seven servers, two of them active.
#[derive(Debug)]
struct FakeWorld(Mutex<State>);

impl FakeWorld {
    fn new() -> Self {
        Self(Mutex::new(State {
            pool_state: PoolState::Normal,
            active: vec!["pc1.contoso.com".into(), "pc2.contoso.com".into()],
            mirrors: Vec::new(),
            fault: None,
            broken: None,
        }))
    }

    fn with_fault(cmdlet: &str, fault: CmdletFault) -> Self {
        let world = Self::new();
        world.state().fault = Some((cmdlet.into(), fault));
        world
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn active(&self) -> Vec<String> {
        self.state().active.clone()
    }

    fn check(&self) -> Result<(), String> {
        self.state().broken.clone().map_or(Ok(()), Err)
    }
}

impl PoolWorld for FakeWorld {
    fn pool_fqdn(&self) -> String {
        POOL.into()
    }

    fn pool_servers(&self) -> Result<Vec<String>, String> {
        self.check()?;
        let mut servers: Vec<String> = (1..=6).map(|n| format!("pc{n}.contoso.com")).collect();
        servers.push("pc'4".into());
        Ok(servers)
    }

    fn pool_state(&self) -> Result<PoolState, String> {
        self.check()?;
        Ok(self.state().pool_state)
    }

    fn set_pool_state(&self, state: PoolState) -> Result<(), String> {
        self.check()?;
        self.state().pool_state = state;
        Ok(())
    }

    fn active_servers(&self) -> Result<Vec<String>, String> {
        self.check()?;
        Ok(self.active())
    }

    fn set_active_servers(&self, servers: Vec<String>) -> Result<(), String> {
        self.check()?;
        self.state().active = servers;
        Ok(())
    }

    fn install_mirror(
        &self,
        database_type: &str,
        sql_server_fqdn: &str,
        instance: Option<&str>,
        _file_share: &str,
    ) -> Result<(), String> {
        self.check()?;
        let entry = (
            database_type.into(),
            sql_server_fqdn.into(),
            instance.map(str::to_string),
        );
        self.state().mirrors.push(entry);
        Ok(())
    }

    fn cmdlet_fault(&self, cmdlet: &str) -> Option<CmdletFault> {
        let state = self.state();
        let (name, fault) = state.fault.as_ref()?;
        (name == cmdlet).then(|| fault.clone())
    }
}

fn command_line(script: &str) -> Vec<String> {
    ["-NoProfile", "-NonInteractive", "-Command", script]
        .iter()
        .map(|s| (*s).to_string())
        .collect()
}

fn run(world: &FakeWorld, script: &str) -> ShellOutput {
    run_shell(&command_line(script), world)
}

/// Runs `script` after pcdr-core's prefix.
fn run_cmd(world: &FakeWorld, command: &str) -> ShellOutput {
    run(world, &format!("{PREFIX}{command}"))
}

fn assert_ok(output: &ShellOutput) {
    assert_eq!(output.exit_code, 0, "stderr: {}", output.stderr);
    assert_eq!(output.stderr, "");
}

fn assert_error(output: &ShellOutput, cmdlet: &str, needle: &str) {
    assert_eq!(output.exit_code, 1, "{output:?}");
    assert!(
        output.stderr.starts_with(&format!("{cmdlet} : ")),
        "{}",
        output.stderr
    );
    assert!(output.stderr.contains(needle), "{}", output.stderr);
    assert!(
        output.stderr.contains("    + CategoryInfo          : "),
        "{}",
        output.stderr
    );
    assert!(
        output.stderr.contains("    + FullyQualifiedErrorId : "),
        "{}",
        output.stderr
    );
}

fn servers(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_string()).collect()
}

#[test]
fn get_state_script_prints_one_compressed_json_line() {
    let output = run(&FakeWorld::new(), GET_STATE);
    assert_ok(&output);
    assert_eq!(
        output.stdout,
        "{\"Identity\":\"service:pchat.contoso.com\",\"PoolState\":\"Normal\"}\n"
    );
}

#[test]
fn set_state_scripts_round_trip_through_get() {
    let world = FakeWorld::new();
    let set = run(&world, SET_FAILED_OVER);
    assert_ok(&set);
    assert_eq!(set.stdout, "", "a cmdlet without output prints nothing");
    assert!(
        run(&world, GET_STATE)
            .stdout
            .contains("\"PoolState\":\"FailedOver\"")
    );
    assert_ok(&run(&world, SET_NORMAL));
    assert_eq!(world.state().pool_state, PoolState::Normal);
}

/// The `XdsIdentity` forms Microsoft documents for the pool-state cmdlets: the cmdlet
/// pages' `PersistentChatServer:<fqdn>`, the service scope
/// `service:PersistentChatServer:<fqdn>` and the failover procedure's `service:<fqdn>`
/// (see `check_xds_identity`).
#[test]
fn every_documented_xds_identity_form_names_the_pool_ignoring_case() {
    let world = FakeWorld::new();
    for identity in [
        "service:PCHAT.Contoso.com",
        "PersistentChatServer:pchat.contoso.com",
        "persistentchatserver:PChat.contoso.com",
        "service:PersistentChatServer:pchat.contoso.com",
        "SERVICE:persistentchatserver:PCHAT.contoso.com",
    ] {
        let quoted = quote_single(identity);
        let output = run_cmd(
            &world,
            &format!("Get-CsPersistentChatState -Identity {quoted} | ConvertTo-Json -Compress"),
        );
        assert_ok(&output);
        assert!(output.stdout.contains("service:pchat.contoso.com"));
        let set = format!("Set-CsPersistentChatState -Identity {quoted} -PoolState FailedOver");
        assert_ok(&run_cmd(&world, &set));
    }
}

/// `Set-CsPersistentChatActiveServer -Identity` is an `XdsGlobalRelativeIdentity`: the
/// page names the collection `PersistentChatServer:<fqdn>` (Skype for Business Server
/// 2015) or `global` (Lync Server 2013).
#[test]
fn the_active_server_collection_is_named_relative_to_global() {
    let world = FakeWorld::new();
    for identity in ["PersistentChatServer:PCHAT.contoso.com", "global", "Global"] {
        let command = format!(
            "Set-CsPersistentChatActiveServer -Identity {} -ActiveServers 'pc3.contoso.com'",
            quote_single(identity)
        );
        assert_ok(&run_cmd(&world, &command));
        assert_eq!(world.active(), servers(&["pc3.contoso.com"]));
    }
}

/// A scope (`service:`, `site:`, `tag:`) does not convert to an
/// `XdsGlobalRelativeIdentity`, so the identity pcdr sent to both cmdlets until now,
/// `service:<fqdn>`, is refused by `Set-CsPersistentChatActiveServer`, and nothing
/// changes.
#[test]
fn a_scoped_identity_is_refused_by_the_active_server_cmdlet() {
    let world = FakeWorld::new();
    for identity in [
        "service:pchat.contoso.com",
        "service:PersistentChatServer:pchat.contoso.com",
        "site:Redmond",
    ] {
        let command = format!(
            "Set-CsPersistentChatActiveServer -Identity {} -ActiveServers $null",
            quote_single(identity)
        );
        let output = run_cmd(&world, &command);
        assert_error(
            &output,
            "Set-CsPersistentChatActiveServer",
            &format!(
                "Cannot bind parameter 'Identity'. Cannot convert value \"{identity}\" to type \"Microsoft.Rtc.Management.Xds.XdsGlobalRelativeIdentity\""
            ),
        );
        assert!(
            output.stderr.contains("CannotConvertArgumentNoMessage"),
            "{}",
            output.stderr
        );
        assert_eq!(
            world.active(),
            servers(&["pc1.contoso.com", "pc2.contoso.com"])
        );
    }
}

#[test]
fn an_unknown_collection_is_not_found_by_the_active_server_cmdlet() {
    for identity in [
        "PersistentChatServer:other.contoso.com",
        "PChatServerCollection",
    ] {
        let command =
            format!("Set-CsPersistentChatActiveServer -Identity '{identity}' -ActiveServers $null");
        let output = run_cmd(&FakeWorld::new(), &command);
        assert_error(
            &output,
            "Set-CsPersistentChatActiveServer",
            "Cannot find Persistent Chat pool",
        );
    }
}

#[test]
fn an_unknown_pool_identity_is_an_error() {
    for identity in [
        "service:other.contoso.com",
        "pchat.contoso.com",
        "Registrar:pchat.contoso.com",
        "service:Registrar:pchat.contoso.com",
        "global",
    ] {
        let output = run_cmd(
            &FakeWorld::new(),
            &format!("Get-CsPersistentChatState -Identity '{identity}'"),
        );
        assert_error(
            &output,
            "Get-CsPersistentChatState",
            "Cannot find Persistent Chat pool",
        );
        assert_eq!(output.stdout, "");
    }
}

#[test]
fn replace_script_sets_exactly_the_listed_servers() {
    let world = FakeWorld::new();
    assert_ok(&run(&world, REPLACE_ACTIVE));
    assert_eq!(
        world.active(),
        servers(&["pc3.contoso.com", "pc4.contoso.com"])
    );
}

#[test]
fn null_script_clears_the_active_servers() {
    let world = FakeWorld::new();
    assert_ok(&run(&world, CLEAR_ACTIVE));
    assert_eq!(world.active(), Vec::<String>::new());
}

#[test]
fn add_and_remove_modify_the_current_list_without_duplicates() {
    let world = FakeWorld::new();
    assert_ok(&run_cmd(
        &world,
        "Set-CsPersistentChatActiveServer -ActiveServers @{Add='pc3.contoso.com','PC1.contoso.com'}",
    ));
    assert_eq!(
        world.active(),
        servers(&["pc1.contoso.com", "pc2.contoso.com", "pc3.contoso.com"])
    );
    assert_ok(&run_cmd(
        &world,
        "Set-CsPersistentChatActiveServer -ActiveServers @{Remove='PC2.contoso.com'}",
    ));
    assert_eq!(
        world.active(),
        servers(&["pc1.contoso.com", "pc3.contoso.com"])
    );
    assert_ok(&run_cmd(
        &world,
        "Set-CsPersistentChatActiveServer -ActiveServers @{remove='pc1.contoso.com'; ADD='pc5.contoso.com'}",
    ));
    assert_eq!(
        world.active(),
        servers(&["pc3.contoso.com", "pc5.contoso.com"])
    );
}

#[test]
fn a_plain_array_or_single_name_replaces_the_list_in_the_pools_spelling() {
    let world = FakeWorld::new();
    assert_ok(&run_cmd(
        &world,
        "Set-CsPersistentChatActiveServer -ActiveServers 'PC5.CONTOSO.COM','pc6.contoso.com' -Force",
    ));
    assert_eq!(
        world.active(),
        servers(&["pc5.contoso.com", "pc6.contoso.com"])
    );
    assert_ok(&run_cmd(
        &world,
        "Set-CsPersistentChatActiveServer -ActiveServers pc1.contoso.com",
    ));
    assert_eq!(world.active(), servers(&["pc1.contoso.com"]));
    assert_ok(&run_cmd(
        &world,
        "Set-CsPersistentChatActiveServer -ActiveServers @()",
    ));
    assert_eq!(world.active(), Vec::<String>::new());
}

#[test]
fn a_server_outside_the_pool_is_refused_and_nothing_changes() {
    let world = FakeWorld::new();
    let output = run_cmd(
        &world,
        "Set-CsPersistentChatActiveServer -Identity 'PersistentChatServer:pchat.contoso.com' -ActiveServers @{Replace='pc3.contoso.com','fe1.contoso.com'} -Confirm:$false",
    );
    assert_error(
        &output,
        "Set-CsPersistentChatActiveServer",
        "\"fe1.contoso.com\": it is not a Persistent Chat Server of pool \"pchat.contoso.com\"",
    );
    assert_eq!(
        world.active(),
        servers(&["pc1.contoso.com", "pc2.contoso.com"])
    );
}

#[test]
fn a_fifth_active_server_is_refused_and_four_are_accepted() {
    let world = FakeWorld::new();
    assert_ok(&run_cmd(
        &world,
        "Set-CsPersistentChatActiveServer -ActiveServers @{Add='pc3.contoso.com','pc4.contoso.com'}",
    ));
    assert_eq!(world.active().len(), 4);
    let output = run_cmd(
        &world,
        "Set-CsPersistentChatActiveServer -ActiveServers @{Add='pc5.contoso.com'}",
    );
    assert_error(
        &output,
        "Set-CsPersistentChatActiveServer",
        "at most 4 active servers",
    );
    assert_eq!(world.active().len(), 4);
}

#[test]
fn a_hashtable_key_other_than_add_remove_replace_is_refused() {
    let world = FakeWorld::new();
    let output = run_cmd(
        &world,
        "Set-CsPersistentChatActiveServer -ActiveServers @{Set='pc3.contoso.com'}",
    );
    assert_error(
        &output,
        "Set-CsPersistentChatActiveServer",
        "The key 'Set' is not valid",
    );
    assert_eq!(world.active().len(), 2);
}

#[test]
fn a_value_quoted_by_quote_single_arrives_exactly() {
    let world = FakeWorld::new();
    // set_active_servers("PersistentChatServer:pchat.contoso.com", &["pc3.contoso.com", "pc'4"]) in pcdr-core.
    let script = "Import-Module 'SkypeForBusiness'; $ErrorActionPreference = 'Stop'; Set-CsPersistentChatActiveServer -Identity 'PersistentChatServer:pchat.contoso.com' -ActiveServers @{Replace='pc3.contoso.com','pc''4'} -Confirm:$false | ConvertTo-Json -Compress";
    assert_ok(&run(&world, script));
    assert_eq!(world.active(), servers(&["pc3.contoso.com", "pc'4"]));
    let share = r"\\fs01\it's ‘odd’ $x `n";
    let command = format!(
        "Install-CsMirrorDatabase -DatabaseType PersistentChat -SqlServerFqdn {} -FileShare {}",
        quote_single("sql'1"),
        quote_single(share)
    );
    assert_ok(&run_cmd(&world, &command));
    assert_eq!(world.state().mirrors[0].1, "sql'1");
}

#[test]
fn mirror_script_passes_database_type_server_and_instance() {
    let world = FakeWorld::new();
    let output = run(&world, INSTALL_MIRROR);
    assert_ok(&output);
    assert_eq!(output.stdout, "");
    assert_eq!(
        world.state().mirrors,
        vec![(
            "PersistentChat".into(),
            "sql-dal.contoso.com".into(),
            Some("PCHAT".into())
        )]
    );
}

#[test]
fn mirror_without_instance_passes_none_and_canonical_type() {
    let world = FakeWorld::new();
    let output = run_cmd(
        &world,
        "Install-CsMirrorDatabase -DatabaseType 'persistentchatcompliance' -SqlServerFqdn 'sql-dal.contoso.com' -FileShare '\\\\fs01\\pchat-logs' -Confirm:$false",
    );
    assert_ok(&output);
    assert_eq!(
        world.state().mirrors,
        vec![(
            "PersistentChatCompliance".into(),
            "sql-dal.contoso.com".into(),
            None
        )]
    );
}

/// `-SqlServerFqdn` is the SQL Server computer's FQDN as the topology knows it
/// (<https://learn.microsoft.com/en-us/powershell/module/skype/install-csmirrordatabase>):
/// an address, IPv4 or IPv6, reaches no cmdlet body.
#[test]
fn mirror_refuses_an_ip_address_for_the_sql_server() {
    let world = FakeWorld::new();
    for address in ["127.0.0.3", "10.20.30.40", "::1"] {
        let output = run_cmd(
            &world,
            &format!(
                "Install-CsMirrorDatabase -DatabaseType PersistentChat -SqlServerFqdn '{address}' -SqlInstanceName PCHAT -FileShare '\\\\f\\s'"
            ),
        );
        assert_error(
            &output,
            "Install-CsMirrorDatabase",
            &format!("Cannot find a SQL Server store on \"{address}\" in the topology"),
        );
    }
    assert!(world.state().mirrors.is_empty());
}

#[test]
fn mirror_refuses_other_database_types_and_non_unc_shares() {
    let world = FakeWorld::new();
    let wrong_type = run_cmd(
        &world,
        "Install-CsMirrorDatabase -DatabaseType User -SqlServerFqdn 's' -FileShare '\\\\f\\s'",
    );
    assert_error(
        &wrong_type,
        "Install-CsMirrorDatabase",
        "Unable to match the identifier name User",
    );
    let local_path = run_cmd(
        &world,
        "Install-CsMirrorDatabase -DatabaseType PersistentChat -SqlServerFqdn 's' -FileShare 'C:\\share'",
    );
    assert_error(&local_path, "Install-CsMirrorDatabase", "is not a UNC path");
    assert!(world.state().mirrors.is_empty());
}

#[test]
fn an_unknown_cmdlet_is_not_recognized() {
    let output = run_cmd(
        &FakeWorld::new(),
        "Get-CsPersistentChatActiveServer | ConvertTo-Json -Compress",
    );
    assert_error(
        &output,
        "Get-CsPersistentChatActiveServer",
        "The term 'Get-CsPersistentChatActiveServer' is not recognized as the name of a cmdlet, function, script file, or operable program.",
    );
    assert!(output.stderr.contains(
        "ObjectNotFound: (Get-CsPersistentChatActiveServer:String) [], CommandNotFoundException"
    ));
}

#[test]
fn an_unknown_parameter_is_refused() {
    let world = FakeWorld::new();
    let output = run_cmd(
        &world,
        "Set-CsPersistentChatState -Identity 'service:pchat.contoso.com' -PoolStat 'FailedOver' -Bogus 1",
    );
    assert_error(
        &output,
        "Set-CsPersistentChatState",
        "A parameter cannot be found that matches parameter name 'Bogus'.",
    );
    assert!(
        output
            .stderr
            .contains("NamedParameterNotFound,Set-CsPersistentChatState")
    );
    assert_eq!(world.state().pool_state, PoolState::Normal);
}

#[test]
fn an_ambiguous_prefix_lists_the_candidates() {
    let output = run_cmd(
        &FakeWorld::new(),
        "Install-CsMirrorDatabase -D PersistentChat -SqlServerFqdn 's' -FileShare '\\\\f\\s'",
    );
    assert_error(
        &output,
        "Install-CsMirrorDatabase",
        "the parameter name 'D' is ambiguous. Possible matches include: -DatabaseType -DropExistingDatabasesOnMirror -DatabasePathMap -Debug.",
    );
}

#[test]
fn unambiguous_prefixes_and_any_case_bind() {
    let world = FakeWorld::new();
    assert_ok(&run_cmd(
        &world,
        "set-cspersistentchatstate -ident 'service:pchat.contoso.com' -POOL failedover -conf:$false",
    ));
    assert_eq!(world.state().pool_state, PoolState::FailedOver);
}

#[test]
fn a_positional_identity_binds() {
    let world = FakeWorld::new();
    assert_ok(&run_cmd(
        &world,
        "Set-CsPersistentChatState 'PersistentChatServer:pchat.contoso.com' -PoolState FailedOver",
    ));
    assert_eq!(world.state().pool_state, PoolState::FailedOver);
}

#[test]
fn a_missing_mandatory_parameter_is_an_error() {
    let world = FakeWorld::new();
    let output = run_cmd(
        &world,
        "Set-CsPersistentChatState -Identity 'service:pchat.contoso.com' -Confirm:$false",
    );
    assert_error(
        &output,
        "Set-CsPersistentChatState",
        "Cannot process command because of one or more missing mandatory parameters: PoolState.",
    );
    let mirror = run_cmd(
        &world,
        "Install-CsMirrorDatabase -DatabaseType PersistentChat",
    );
    assert_error(
        &mirror,
        "Install-CsMirrorDatabase",
        "missing mandatory parameters: SqlServerFqdn FileShare.",
    );
}

#[test]
fn confirm_false_without_colon_does_not_bind_to_confirm() {
    let world = FakeWorld::new();
    let output = run_cmd(
        &world,
        "Set-CsPersistentChatState -Identity 'service:pchat.contoso.com' -PoolState FailedOver -Confirm $false",
    );
    assert_error(
        &output,
        "Set-CsPersistentChatState",
        "A positional parameter cannot be found that accepts argument 'False'.",
    );
    assert_eq!(world.state().pool_state, PoolState::Normal);
}

#[test]
fn an_explicit_confirm_cannot_prompt_in_a_non_interactive_shell() {
    let world = FakeWorld::new();
    let output = run_cmd(
        &world,
        "Set-CsPersistentChatActiveServer -ActiveServers $null -Confirm",
    );
    assert_error(
        &output,
        "Set-CsPersistentChatActiveServer",
        "PowerShell is in NonInteractive mode.",
    );
    assert_eq!(world.active().len(), 2);
}

#[test]
fn an_invalid_pool_state_names_the_valid_ones() {
    let output = run_cmd(
        &FakeWorld::new(),
        "Set-CsPersistentChatState -Identity 'service:pchat.contoso.com' -PoolState 'Failover'",
    );
    assert_error(
        &output,
        "Set-CsPersistentChatState",
        "Specify one of the following enumerator names and try again: Normal, FailedOver",
    );
}

#[test]
fn unsupported_real_parameters_are_refused_not_ignored() {
    let world = FakeWorld::new();
    let output = run_cmd(&world, "Set-CsPersistentChatActiveServer -Swap -WhatIf");
    assert_error(
        &output,
        "Set-CsPersistentChatActiveServer",
        "The parameter 'Swap' is not supported by the emulated Management Shell.",
    );
    let verbose = run_cmd(&world, "Get-CsPersistentChatState -Verbose");
    assert_error(
        &verbose,
        "Get-CsPersistentChatState",
        "'Verbose' is not supported",
    );
}

#[test]
fn an_injected_failure_is_a_terminating_error_that_changes_nothing() {
    let world = FakeWorld::with_fault(
        "Set-CsPersistentChatState",
        CmdletFault::Fail("Cannot contact the Central Management Store.".into()),
    );
    let output = run(&world, SET_FAILED_OVER);
    assert_error(
        &output,
        "Set-CsPersistentChatState",
        "Cannot contact the Central Management Store.",
    );
    assert_eq!(world.state().pool_state, PoolState::Normal);
    assert_ok(&run(&world, GET_STATE));
}

/// A warning is not an error: the cmdlet still acts, stdout keeps its JSON, stderr
/// holds `WARNING: …` and the exit code is 0 (see the module doc of `exec.rs`).
#[test]
fn an_injected_warning_goes_to_stderr_and_the_cmdlet_succeeds() {
    let world = FakeWorld::with_fault(
        "Install-CsMirrorDatabase",
        CmdletFault::Warn("The mirror database's file paths differ from the principal's.".into()),
    );
    let output = run(&world, INSTALL_MIRROR);
    assert_eq!(output.exit_code, 0, "{output:?}");
    assert_eq!(
        output.stderr,
        "WARNING: The mirror database's file paths differ from the principal's.\n"
    );
    assert_eq!(output.stdout, "");
    assert_eq!(world.state().mirrors.len(), 1, "the cmdlet acted");
}

#[test]
fn the_fault_is_asked_for_by_the_canonical_cmdlet_name() {
    let world = FakeWorld::with_fault(
        "Get-CsPersistentChatState",
        CmdletFault::Fail("boom".into()),
    );
    let output = run_cmd(&world, "get-cspersistentchatstate | ConvertTo-Json");
    assert_error(&output, "get-cspersistentchatstate", "boom");
    assert!(output.stderr.contains("[Get-CsPersistentChatState]"));
}

/// The hung shell never returns, so its thread is left behind: it parks
/// forever and ends with the test process.
#[test]
fn an_injected_hang_never_returns() {
    let world = Arc::new(FakeWorld::with_fault(
        "Install-CsMirrorDatabase",
        CmdletFault::Hang,
    ));
    let (done, finished) = mpsc::channel();
    let shared = Arc::clone(&world);
    std::thread::spawn(move || {
        let output = run(&shared, INSTALL_MIRROR);
        let _ = done.send(output);
    });
    let waited = finished.recv_timeout(Duration::from_millis(200));
    assert_eq!(waited, Err(mpsc::RecvTimeoutError::Timeout));
    assert!(world.state().mirrors.is_empty());
}

#[test]
fn a_world_failure_is_reported_as_the_cmdlets_error() {
    let world = FakeWorld::new();
    world.state().broken = Some("The world database is locked.".into());
    let output = run(&world, GET_STATE);
    assert_error(
        &output,
        "Get-CsPersistentChatState",
        "The world database is locked.",
    );
    assert!(
        output
            .stderr
            .contains("InvalidOperation: (pchat.contoso.com:String)")
    );
}

#[test]
fn with_stop_the_first_error_ends_the_script() {
    let world = FakeWorld::new();
    let output = run_cmd(
        &world,
        "Get-CsNothing; Set-CsPersistentChatState -Identity 'service:pchat.contoso.com' -PoolState FailedOver",
    );
    assert_eq!(output.exit_code, 1);
    assert_eq!(world.state().pool_state, PoolState::Normal);
}

#[test]
fn without_stop_the_script_continues_after_an_error() {
    let world = FakeWorld::new();
    let script = "Import-Module 'SkypeForBusiness'; Get-CsNothing; Set-CsPersistentChatState -Identity 'service:pchat.contoso.com' -PoolState FailedOver; Get-CsPersistentChatState | ConvertTo-Json -Compress";
    let output = run(&world, script);
    assert_eq!(output.exit_code, 0, "the last statement succeeded");
    assert!(
        output
            .stderr
            .starts_with("Get-CsNothing : The term 'Get-CsNothing' is not recognized")
    );
    assert!(output.stdout.contains("\"PoolState\":\"FailedOver\""));
    let failing_last = run(&world, "Get-CsPersistentChatState; Get-CsNothing");
    assert_eq!(failing_last.exit_code, 1, "the last statement failed");
    assert!(failing_last.stdout.contains("PoolState : FailedOver"));
}

#[test]
fn only_stop_and_continue_preferences_are_accepted() {
    let world = FakeWorld::new();
    let output = run(
        &world,
        "$ErrorActionPreference = 'SilentlyContinue'; Get-CsNothing",
    );
    assert!(output.stderr.starts_with("The emulated shell supports $ErrorActionPreference = 'Stop' or 'Continue' only, not 'SilentlyContinue'."));
    assert_eq!(output.exit_code, 1);
    assert_ok(&run(
        &world,
        "$errorActionPreference = 'continue'; Get-CsPersistentChatState",
    ));
}

#[test]
fn a_refused_construct_runs_nothing() {
    let world = FakeWorld::new();
    let output = run_cmd(
        &world,
        "Set-CsPersistentChatState -Identity 'service:pchat.contoso.com' -PoolState FailedOver; Remove-Item $(whoami)",
    );
    assert_eq!(output.exit_code, 1);
    assert_eq!(output.stdout, "");
    assert!(
        output.stderr.starts_with("At line:1 char:"),
        "{}",
        output.stderr
    );
    assert!(
        output
            .stderr
            .contains("subexpressions '$( )' are not supported")
    );
    assert!(output.stderr.contains("ParserError"));
    assert_eq!(world.state().pool_state, PoolState::Normal);
}

#[test]
fn an_unknown_module_is_not_loaded_and_lync_is() {
    let world = FakeWorld::new();
    let output = run(
        &world,
        "$ErrorActionPreference = 'Stop'; Import-Module 'ActiveDirectory'; Get-CsPersistentChatState",
    );
    assert_error(
        &output,
        "Import-Module",
        "The specified module 'ActiveDirectory' was not loaded because no valid module file was found",
    );
    assert!(
        output
            .stderr
            .contains("Modules_ModuleNotFound,Import-Module")
    );
    assert_ok(&run(
        &world,
        "Import-Module Lync; Import-Module -Name 'skypeforbusiness'",
    ));
}

#[test]
fn a_refused_command_line_runs_nothing() {
    let world = FakeWorld::new();
    let args: Vec<String> = [
        "-NoProfile",
        "-ExecutionPolicy",
        "Bypass",
        "-Command",
        SET_FAILED_OVER,
    ]
    .iter()
    .map(|s| (*s).to_string())
    .collect();
    let output = run_shell(&args, &world);
    assert_eq!(output.exit_code, 1);
    assert!(
        output
            .stderr
            .contains("'-ExecutionPolicy' is not recognized")
    );
    assert_eq!(world.state().pool_state, PoolState::Normal);
}

#[test]
fn convertto_json_expands_without_compress_and_checks_depth() {
    let world = FakeWorld::new();
    let output = run_cmd(
        &world,
        "Get-CsPersistentChatState | ConvertTo-Json -Depth 3",
    );
    assert_ok(&output);
    assert_eq!(
        output.stdout,
        "{\n    \"Identity\":  \"service:pchat.contoso.com\",\n    \"PoolState\":  \"Normal\"\n}\n"
    );
    let bad = run_cmd(
        &world,
        "Get-CsPersistentChatState | ConvertTo-Json -Depth 0",
    );
    assert_error(
        &bad,
        "ConvertTo-Json",
        "Cannot validate argument on parameter 'Depth'.",
    );
}

#[test]
fn pipeline_input_goes_only_where_it_is_accepted() {
    let world = FakeWorld::new();
    let alone = run_cmd(&world, "ConvertTo-Json -Compress");
    assert_error(
        &alone,
        "ConvertTo-Json",
        "missing mandatory parameters: InputObject.",
    );
    let into_set = run_cmd(
        &world,
        "Get-CsPersistentChatState | Set-CsPersistentChatState -PoolState FailedOver -Identity 'service:pchat.contoso.com'",
    );
    assert_error(
        &into_set,
        "Set-CsPersistentChatState",
        "The input object cannot be bound",
    );
    assert_eq!(world.state().pool_state, PoolState::Normal);
}

#[test]
fn variables_hold_values_and_unset_ones_are_null() {
    let world = FakeWorld::new();
    assert_ok(&run_cmd(
        &world,
        "$servers = 'pc5.contoso.com', 'pc6.contoso.com'; Set-CsPersistentChatActiveServer -ActiveServers @{Replace=$SERVERS}",
    ));
    assert_eq!(
        world.active(),
        servers(&["pc5.contoso.com", "pc6.contoso.com"])
    );
    assert_ok(&run_cmd(
        &world,
        "Set-CsPersistentChatActiveServer -ActiveServers $unset",
    ));
    assert!(world.active().is_empty());
}
