package dev.pgferry.worker.schema;

import java.util.ArrayList;
import java.util.List;

/**
 * One statement that failed in a pg_restore run that went on past errors, read from its stderr. {@link PgTool}
 * runs the client programs in the C locale, so pg_restore's own words ({@code could not execute query},
 * {@code Command was:}) are known; the server's message is kept as it came, for people, and never interpreted.
 *
 * @param message what went wrong, as reported
 * @param command the failed statement, or null when the failure was not a statement's (e.g. a lost connection)
 */
record RestoreFailure(String message, String command) {
    private static final String PREFIX = "pg_restore: ";
    private static final String COMMAND = "Command was: ";

    /** The failures reported in {@code stderr}, in order; pg_restore's warnings are not failures. */
    static List<RestoreFailure> parse(String stderr) {
        List<RestoreFailure> out = new ArrayList<>();
        List<String> block = new ArrayList<>();
        for (String line : stderr.split("\n", -1)) {
            if (line.startsWith(PREFIX) && !block.isEmpty()) {
                add(block, out);
                block.clear();
            }
            block.add(line);
        }
        add(block, out);
        return out;
    }

    private static void add(List<String> block, List<RestoreFailure> out) {
        if (block.isEmpty() || !block.get(0).startsWith(PREFIX) || block.get(0).startsWith(PREFIX + "warning: ")) {
            return;
        }
        StringBuilder message = new StringBuilder();
        StringBuilder command = null;
        for (int i = 0; i < block.size(); i++) {
            String line = i == 0 ? strip(block.get(0)) : block.get(i);
            if (command != null) {
                command.append('\n').append(line);
            } else if (line.startsWith(COMMAND)) {
                command = new StringBuilder(line.substring(COMMAND.length()));
            } else {
                message.append(message.isEmpty() ? "" : "\n").append(line);
            }
        }
        out.add(new RestoreFailure(message.toString().strip(), command == null ? null : command.toString().strip()));
    }

    private static String strip(String first) {
        String s = first.substring(PREFIX.length());
        s = s.startsWith("error: ") ? s.substring("error: ".length()) : s;
        return s.startsWith("could not execute query: ") ? s.substring("could not execute query: ".length()) : s;
    }
}
