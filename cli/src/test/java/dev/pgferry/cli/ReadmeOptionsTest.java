package dev.pgferry.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The README's option tables are generated from the commands' own definitions (picocli's model: names, parameter,
 * default, description), the same ones {@code --help} prints; this test fails when a table and its command drift
 * apart. Each table sits between {@code <!-- options: COMMAND -->} and {@code <!-- /options -->}. To write them
 * again: {@code mvn -q -pl cli test -Dtest=ReadmeOptionsTest -Dpgferry.writeReadme=true}.
 */
class ReadmeOptionsTest {
    private static final Path README = Path.of("..", "README.md");
    private static final Pattern BLOCK = Pattern.compile("<!-- options: ([a-z-]+) -->\\n(.*?)<!-- /options -->",
            Pattern.DOTALL);

    @Test
    void everyCommandsOptionTableIsWhatItsDefinitionSays() throws Exception {
        Map<String, CommandLine> commands = new CommandLine(Main.class).getSubcommands();
        String readme = Files.readString(README);
        Matcher m = BLOCK.matcher(readme);
        StringBuilder out = new StringBuilder();
        List<String> shown = new ArrayList<>();
        List<String> drifted = new ArrayList<>();
        while (m.find()) {
            String name = m.group(1);
            assertThat(commands).as("README names an unknown command in <!-- options: %s -->", name).containsKey(name);
            String table = table(commands.get(name).getCommandSpec());
            if (!table.equals(m.group(2))) {
                drifted.add(name);
            }
            shown.add(name);
            m.appendReplacement(out, Matcher.quoteReplacement("<!-- options: " + name + " -->\n" + table + "<!-- /options -->"));
        }
        m.appendTail(out);
        if (Boolean.getBoolean("pgferry.writeReadme")) {
            Files.writeString(README, out.toString());
            return;
        }
        assertThat(shown).as("commands with an option table in README.md").containsExactlyInAnyOrderElementsOf(commands.keySet());
        assertThat(drifted).as("README.md's option tables that differ from their commands' options; write them again with"
                + " mvn -q -pl cli test -Dtest=ReadmeOptionsTest -Dpgferry.writeReadme=true").isEmpty();
    }

    /** The Markdown table of a command's parameters and options, in the order they are declared. */
    static String table(CommandSpec spec) {
        StringBuilder t = new StringBuilder("| option | meaning |\n|---|---|\n");
        for (PositionalParamSpec p : spec.positionalParameters()) {
            if (!p.hidden()) {
                t.append("| `").append(p.paramLabel()).append("` | ").append(cell(describe(p.description(), p.defaultValue())))
                        .append(" |\n");
            }
        }
        for (OptionSpec o : spec.options()) {
            if (o.hidden() || o.usageHelp() || o.versionHelp()) {
                continue;
            }
            String name = String.join(", ", o.names()) + (o.arity().max() > 0 ? " " + o.paramLabel() : "");
            t.append("| `").append(cell(name)).append("` | ").append(cell(describe(o.description(), o.defaultValue())))
                    .append(o.required() ? " Required." : "").append(" |\n");
        }
        return t.toString();
    }

    private static String describe(String[] description, String defaultValue) {
        return String.join(" ", description).replace("${DEFAULT-VALUE}", String.valueOf(defaultValue));
    }

    private static String cell(String text) {
        return text.replace("|", "\\|").replace("\n", " ");
    }
}
