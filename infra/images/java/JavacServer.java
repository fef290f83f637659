import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import javax.tools.FileObject;
import javax.tools.ForwardingJavaFileManager;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileManager;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.ToolProvider;

/**
 * A warm javac inside the sandbox. The agent starts it (as the sandbox user, through an
 * execute-only copy of the java launcher, so that it is not dumpable: a program cannot trace
 * it, read its memory or open its pipes) when the container is prepared, and keeps it across
 * the runs of the container's owner. It compiles once at start, in memory (it writes nothing
 * to the sandbox's disks but what a request asks for), so that the compiler's classes are
 * loaded and compiled, prints READY, then for each request line (javac arguments separated by
 * NUL) answers "EXIT code length" and the diagnostics.
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

    /** Compiles a small program from memory into memory (its class files are dropped). */
    private static void warmUp(JavaCompiler javac) throws Exception {
        String code = "import java.util.*;\npublic class Warm { public static void main(String[] a) {"
            + " List<String> l = new ArrayList<>(); l.add(\"x\"); System.out.println(l); } }\n";
        JavaFileObject source = new SimpleJavaFileObject(URI.create("string:///Warm.java"), JavaFileObject.Kind.SOURCE) {
            @Override
            public CharSequence getCharContent(boolean ignoreEncodingErrors) {
                return code;
            }
        };
        try (JavaFileManager files = new ForwardingJavaFileManager<JavaFileManager>(
                javac.getStandardFileManager(null, null, StandardCharsets.UTF_8)) {
            @Override
            public JavaFileObject getJavaFileForOutput(Location location, String className,
                    JavaFileObject.Kind kind, FileObject sibling) {
                return new SimpleJavaFileObject(URI.create("mem:///" + className + kind.extension), kind) {
                    @Override
                    public OutputStream openOutputStream() {
                        return OutputStream.nullOutputStream();
                    }
                };
            }
        }) {
            javac.getTask(new java.io.StringWriter(), files, null, null, null, List.of(source)).call();
        }
    }
}
