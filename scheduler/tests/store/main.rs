//! Scheduler tests, each run twice: on a fresh SQLite file and on a fresh PostgreSQL database.

mod attendance;
mod carry_admin;
mod changes;
mod cluster;
mod devices;
mod failover;
mod feeds;
mod guests;
mod import;
mod live;
mod live_states;
mod login_devices;
mod login_networks;
mod national;
mod recordings;
mod reform;
mod scheduling;
mod series;
mod support;

/// Declares each listed test once per backend: `sqlite::name` and `postgres::name`.
macro_rules! on_both_backends {
    ($($module:ident :: $name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test] async fn $name() { crate::$module::$name(scheduler::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test] async fn $name() { crate::$module::$name(scheduler::Backend::Postgres).await } )*
        }
    };
}

on_both_backends!(
    attendance::a_scripted_meeting_gives_exactly_the_expected_rows,
    attendance::a_crash_closes_intervals_at_the_last_heartbeat,
    attendance::the_report_names_each_hall_with_its_unit_code,
    changes::a_batch_is_written_in_order_once_and_all_or_nothing,
    cluster::a_nodes_recovery_leaves_other_nodes_intervals_open,
    cluster::a_dead_nodes_intervals_are_closed_by_name,
    cluster::two_nodes_booking_one_hall_at_once_book_it_once,
    cluster::a_meeting_has_one_home_node_at_a_time,
    cluster::two_nodes_racing_for_a_lease_get_one_home,
    failover::a_dead_homes_meeting_is_taken_over_once,
    failover::a_join_that_takes_a_lapsed_lease_closes_the_dead_nodes_intervals,
    failover::nodes_racing_to_take_over_get_one_home_and_close_once,
    failover::ended_and_given_up_meetings_are_not_taken_over,
    failover::halls_that_never_come_back_after_a_drain_are_closed_by_the_new_home,
    guests::guests_are_the_owners_to_add_list_and_revoke,
    feeds::feed_tokens_are_the_owners_kept_hashed_and_revocable,
    guests::guest_intervals_are_recorded_apart_from_the_halls,
    guests::a_crash_closes_guest_intervals_too,
    live::the_recorded_phase_follows_test_start_and_end,
    live::an_ended_roll_call_counts_halls_without_an_answer_absent,
    live_states::a_live_state_is_written_by_its_home_only,
    live_states::the_latest_roll_call_comes_back_with_its_answers,
    import::the_2024_file_gives_the_real_counts_and_reimport_changes_nothing,
    import::a_broken_file_changes_nothing_and_names_the_line,
    import::search_finds_names_without_diacritics,
    import::an_import_while_attendance_is_written_succeeds,
    import::a_reimport_with_new_codes_updates_and_reports,
    import::overlapping_validity_is_refused_with_its_code,
    reform::a_scope_resolves_on_the_tree_of_the_meeting_date,
    reform::carrying_moves_each_hall_to_its_mapped_commune_once,
    reform::a_2024_report_keeps_the_2024_unit_names_after_the_carry,
    carry_admin::a_preview_writes_nothing_and_an_apply_moves_once,
    carry_admin::a_listed_hall_is_placed_with_its_history_and_secretariats_are_settled,
    carry_admin::a_broken_mapping_is_refused_with_its_lines_and_nothing_moves,
    scheduling::phu_tho_scopes_invite_the_right_halls,
    scheduling::district_secretariat_stays_in_its_district,
    scheduling::hall_accounts_see_only_their_meetings,
    scheduling::overlapping_meetings_conflict_unless_overridden,
    scheduling::join_tokens_are_for_their_hall_and_time,
    scheduling::weekly_series_creates_one_meeting_per_week,
    scheduling::postpone_and_cancel_are_visible_to_halls,
    scheduling::sessions_expire_and_logout_revokes,
    scheduling::concurrent_overlapping_schedules_book_once,
    devices::a_kiosk_stays_signed_in_for_months_and_staff_do_not,
    login_devices::a_known_device_passes_its_addresses_lockout_for_its_own_account_only,
    login_networks::a_login_from_a_network_staff_signed_in_from_goes_before_a_flood_on_quiet_names,
    login_networks::a_flood_from_networks_that_failed_lately_waits_behind_a_quiet_login,
    devices::revoking_a_device_signs_out_that_pc_only,
    devices::disabling_the_hall_or_its_account_revokes_its_devices,
    series::cancelling_this_and_following_keeps_the_earlier_occurrences,
    series::another_units_secretariat_cannot_cancel_a_series,
    series::added_and_removed_halls_and_units_with_several_halls,
    series::editing_this_and_following_moves_them_all_or_none,
    national::the_levels_offered_follow_the_date,
    national::a_scope_asking_for_a_level_gone_on_its_date_is_refused,
    national::a_national_scope_resolves_every_province_and_commune,
    national::only_the_national_secretariat_schedules_national_meetings,
    recordings::recordings_are_listed_to_the_owning_staff_and_end_as_told,
    recordings::an_administrator_deletes_a_recording_its_file_gone_and_logged,
    recordings::a_crash_leaves_its_nodes_recordings_interrupted_with_their_size,
    recordings::retention_expires_old_recordings_and_removes_their_files,
    recordings::a_database_at_0013_without_0011_gets_it_at_the_next_start,
);
