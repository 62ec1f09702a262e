package dev.pgferry.worker.schema;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

/**
 * Reads SQL as pg_dump writes it, without a server: splits a script into statements and finds the roles a
 * statement names. Knows string literals ({@code '...'}, {@code E'...'}), quoted identifiers, dollar quotes,
 * {@code --} comments and psql meta-command lines ({@code \restrict}), so a {@code ;} or a role name inside any
 * of them counts for nothing.
 */
final class SqlScript {
    private SqlScript() {
    }

    /**
     * The statements of {@code script}, each without its {@code ;}, comments and meta-command lines dropped. A
     * {@code ;} inside parentheses (the actions of a rule, {@code DO INSTEAD (...; ...)}) or inside the body of a
     * function {@code BEGIN ATOMIC ... END} does not end a statement, as in psql.
     */
    static List<String> statements(String script) {
        List<String> out = new ArrayList<>();
        Splitter splitter = new Splitter();
        Scanner s = new Scanner(script);
        while (s.hasNext()) {
            if (splitter.between() && s.atLineStart() && s.peek() == '\\') {
                s.skipLine();
                continue;
            }
            String statement = splitter.take(s.next());
            if (statement != null) {
                out.add(statement);
            }
        }
        String rest = splitter.rest();
        if (rest != null) {
            out.add(rest);
        }
        return out;
    }

    /**
     * Cuts a stream of tokens into statements where psql would: at a {@code ;} outside parentheses and outside a
     * {@code BEGIN ATOMIC ... END} body (whose {@code CASE ... END} expressions nest; pg_dump writes such a body as
     * the server deparses it, where a column named {@code end} is quoted). Confined to one thread.
     */
    static final class Splitter {
        private final StringBuilder current = new StringBuilder();
        private boolean blank = true;
        private int depth;
        private int atomic;
        private String lastWord;

        /** Whether no statement is under way: a comment or a meta-command line here is between two statements. */
        boolean between() {
            return blank && depth == 0 && atomic == 0;
        }

        /** Takes the next token; returns the statement (stripped, without its {@code ;}) that it ends, or null. */
        String take(Token t) {
            switch (t.kind) {
                case COMMENT -> {
                    current.append('\n');
                    return null;
                }
                case SEMICOLON -> {
                    if (depth == 0 && atomic == 0) {
                        String statement = current.toString().strip();
                        current.setLength(0);
                        blank = true;
                        lastWord = null;
                        return statement.isEmpty() ? null : statement;
                    }
                }
                case WORD -> {
                    String word = t.text.toUpperCase(Locale.ROOT);
                    if (word.equals("ATOMIC") && "BEGIN".equals(lastWord)) {
                        atomic++;
                    } else if (atomic > 0 && word.equals("CASE")) {
                        atomic++;
                    } else if (atomic > 0 && word.equals("END")) {
                        atomic--;
                    }
                    lastWord = word;
                }
                case OTHER -> {
                    if (t.text.equals("(")) {
                        depth++;
                    } else if (t.text.equals(")") && depth > 0) {
                        depth--;
                    }
                    lastWord = null;
                }
                case SPACE -> {
                }
                default -> lastWord = null;
            }
            current.append(t.text);
            blank &= t.kind == Kind.SPACE;
            return null;
        }

        /** What is left after the last {@code ;}, or null. */
        String rest() {
            String statement = current.toString().strip();
            return statement.isEmpty() ? null : statement;
        }
    }

    /**
     * The roles of {@code roles} that {@code statement} names where a role goes: after {@code TO}, {@code FROM},
     * {@code FOR}, {@code ROLE}, {@code USER}, {@code AUTHORIZATION} or {@code BY} (grantees, new owners, the
     * roles of a policy, a user mapping or default privileges, a grantor), and the names listed after one of them.
     * A table or column that happens to share a role's name is not counted.
     */
    static Set<String> namedRoles(String statement, Set<String> roles) {
        Set<String> found = new TreeSet<>();
        Scanner s = new Scanner(statement);
        boolean expectingRole = false;
        boolean inList = false;
        while (s.hasNext()) {
            Token t = s.next();
            switch (t.kind) {
                case SPACE, COMMENT -> {
                }
                case WORD, QUOTED -> {
                    String name = t.kind == Kind.QUOTED ? t.text.substring(1, t.text.length() - 1).replace("\"\"", "\"")
                            : t.text.toLowerCase(Locale.ROOT);
                    if (expectingRole && roles.contains(name)) {
                        found.add(name);
                    }
                    boolean keyword = t.kind == Kind.WORD && ROLE_KEYWORDS.contains(name);
                    inList = !keyword && expectingRole;
                    expectingRole = keyword;
                }
                case OTHER -> {
                    expectingRole = t.text.equals(",") && inList;
                    inList = false;
                }
                default -> {
                    expectingRole = false;
                    inList = false;
                }
            }
        }
        return found;
    }

    private static final Set<String> ROLE_KEYWORDS = Set.of("to", "from", "for", "role", "user", "authorization", "by");

    enum Kind { WORD, QUOTED, LITERAL, DOLLAR, COMMENT, SPACE, SEMICOLON, OTHER }

    record Token(Kind kind, String text) {
    }

    /** Splits SQL text into tokens; every character of the input is in exactly one token. */
    static final class Scanner {
        private final String in;
        private int pos;

        Scanner(String in) {
            this.in = in;
        }

        boolean hasNext() {
            return pos < in.length();
        }

        char peek() {
            return in.charAt(pos);
        }

        boolean atLineStart() {
            return pos == 0 || in.charAt(pos - 1) == '\n';
        }

        void skipLine() {
            int nl = in.indexOf('\n', pos);
            pos = nl < 0 ? in.length() : nl + 1;
        }

        Token next() {
            int start = pos;
            char c = in.charAt(pos);
            if (c == '-' && in.startsWith("--", pos)) {
                skipLine();
                return new Token(Kind.COMMENT, in.substring(start, pos));
            }
            if (Character.isWhitespace(c)) {
                while (pos < in.length() && Character.isWhitespace(in.charAt(pos))) {
                    pos++;
                }
                return new Token(Kind.SPACE, in.substring(start, pos));
            }
            if (c == ';') {
                pos++;
                return new Token(Kind.SEMICOLON, ";");
            }
            if (c == '"') {
                pos = closing(pos + 1, '"', false);
                return new Token(Kind.QUOTED, in.substring(start, pos));
            }
            if (c == '\'') {
                pos = closing(pos + 1, '\'', false);
                return new Token(Kind.LITERAL, in.substring(start, pos));
            }
            if ((c == 'E' || c == 'e') && pos + 1 < in.length() && in.charAt(pos + 1) == '\'') {
                pos = closing(pos + 2, '\'', true);
                return new Token(Kind.LITERAL, in.substring(start, pos));
            }
            if (c == '$') {
                int end = in.indexOf('$', pos + 1);
                if (end > 0 && in.substring(pos + 1, end).chars().allMatch(ch -> Character.isLetterOrDigit(ch) || ch == '_')
                        && (end == pos + 1 || !Character.isDigit(in.charAt(pos + 1)))) {
                    String tag = in.substring(pos, end + 1);
                    int close = in.indexOf(tag, end + 1);
                    pos = close < 0 ? in.length() : close + tag.length();
                    return new Token(Kind.DOLLAR, in.substring(start, pos));
                }
            }
            if (Character.isLetter(c) || c == '_') {
                while (pos < in.length() && (Character.isLetterOrDigit(in.charAt(pos)) || in.charAt(pos) == '_'
                        || in.charAt(pos) == '$')) {
                    pos++;
                }
                return new Token(Kind.WORD, in.substring(start, pos));
            }
            pos++;
            return new Token(Kind.OTHER, in.substring(start, pos));
        }

        /** The position after the quote that closes one opened before {@code from}; a doubled quote does not close. */
        private int closing(int from, char quote, boolean backslashEscapes) {
            int i = from;
            while (i < in.length()) {
                char ch = in.charAt(i);
                if (backslashEscapes && ch == '\\') {
                    i += 2;
                } else if (ch == quote) {
                    if (i + 1 < in.length() && in.charAt(i + 1) == quote) {
                        i += 2;
                    } else {
                        return i + 1;
                    }
                } else {
                    i++;
                }
            }
            return in.length();
        }
    }
}
