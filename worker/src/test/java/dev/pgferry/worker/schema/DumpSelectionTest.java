package dev.pgferry.worker.schema;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class DumpSelectionTest {

    /**
     * A table of contents as {@code pg_restore --list} prints it (PostgreSQL 15): a function by its argument types, its
     * privileges and comment with their names too.
     */
    static final List<String> TOC = List.of(
            ";",
            "; Archive created at 2026-12-02 12:00:00 UTC",
            ";",
            "5; 2615 2200 SCHEMA - public pg_database_owner",
            "3350; 0 0 COMMENT - SCHEMA public pg_database_owner",
            "861; 1247 16500 TYPE public order state app_owner",
            "220; 1255 16422 FUNCTION public order_total(integer) app_owner",
            "3351; 0 0 COMMENT public FUNCTION order_total(a integer) app_owner",
            "221; 1255 16423 FUNCTION public order_total(integer, text) app_owner",
            "3352; 0 0 ACL public FUNCTION order_total(a integer, b text) app_owner",
            "219; 1259 16430 VIEW public open_orders app_owner",
            "3353; 0 0 ACL public TABLE open_orders app_owner",
            "3354; 0 0 COMMENT public COLUMN open_orders.id app_owner",
            "3355; 0 0 ACL public FUNCTION order_total(a integer) app_owner",
            "3356; 0 0 ACL public TYPE \"order state\" app_owner");

    @Test
    void anObjectComesWithItsPrivilegesAndCommentsAndNothingOfAnother() {
        List<String> chosen = DumpSelection.choose(TOC, List.of(
                new DumpSelection.Wanted(1255, 16422, "public", "app_owner", "order_total(a integer)"),
                new DumpSelection.Wanted(1259, 16430, "public", "app_owner", "open_orders")));

        // in the list's order; the overload's privileges and the view's column comment are not these objects'
        assertThat(chosen).containsExactly(
                "220; 1255 16422 FUNCTION public order_total(integer) app_owner",
                "3351; 0 0 COMMENT public FUNCTION order_total(a integer) app_owner",
                "219; 1259 16430 VIEW public open_orders app_owner",
                "3353; 0 0 ACL public TABLE open_orders app_owner",
                "3355; 0 0 ACL public FUNCTION order_total(a integer) app_owner");
        // an object the source no longer has is not in the list: nothing to restore
        assertThat(DumpSelection.choose(TOC, List.of(new DumpSelection.Wanted(1255, 99999, "public", "app_owner",
                "gone()")))).isEmpty();
        // a name that needs quotes: the object's entry names it as it is, its privileges quoted
        assertThat(DumpSelection.choose(TOC, List.of(new DumpSelection.Wanted(1247, 16500, "public", "app_owner",
                "\"order state\"")))).containsExactly("861; 1247 16500 TYPE public order state app_owner",
                "3356; 0 0 ACL public TYPE \"order state\" app_owner");
    }
}
