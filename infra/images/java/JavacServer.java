import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

/**
 * A warm javac inside the sandbox. The agent starts it (as the sandbox user) when the container
 * is prepared and again after each reset, and stops it before the program runs. It compiles
 * once at start so that the compiler's classes are loaded and compiled, prints READY, then for
 * each request line (javac arguments separated by NUL) answers "EXIT code length" and the
 * diagnostics.
 */
public class JavacServer {
    public static void main(String[] ignored) throws Exception {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), false, StandardCharsets.UTF_8);
        warmUp(javac);
        out.print("READY\n");
        out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            String[] args = line.isEmpty() ? new String[0] : line.split("\u0000", -1);
            ByteArrayOutputStream diagnostics = new ByteArrayOutputStream();
            int code;
            try {
                code = javac.run(null, diagnostics, diagnostics, args);
            } catch (Throwable t) {
                t.printStackTrace(new PrintStream(diagnostics, true, StandardCharsets.UTF_8));
                code = 4;
            }
            byte[] bytes = diagnostics.toByteArray();
            out.print("EXIT " + code + " " + bytes.length + "\n");
            out.write(bytes);
            out.flush();
        }
    }

    private static void warmUp(JavaCompiler javac) throws Exception {
        Path dir = Files.createTempDirectory("javac-warm");
        Path source = dir.resolve("Warm.java");
        Files.writeString(source, "import java.util.*;\npublic class Warm { public static void main(String[] a) {"
            + " List<String> l = new ArrayList<>(); l.add(\"x\"); System.out.println(l); } }\n");
        javac.run(null, new ByteArrayOutputStream(), new ByteArrayOutputStream(),
            "-d", dir.toString(), source.toString());
    }
}
