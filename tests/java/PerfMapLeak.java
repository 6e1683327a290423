import java.io.File;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.function.IntFunction;

/*
 * PerfMapLeak: a leak from freshly compiled code, round after round, for
 * tests/integration/test_java_perfmap.py.
 *
 * usage: java -Xbatch -XX:-TieredCompilation PerfMapLeak SIZE DIR
 *        (with -XX:+PreserveFramePointer for a walk without VMStructs)
 *
 * Each round loads PerfMapLeak$Leaker anew, through a class loader of its
 * own, so its leak method is a new method each time; calls it with 64-byte
 * buffers it drops until the JIT has compiled it (-Xbatch: the call that
 * reaches the threshold waits for the compilation; run it with leak kept
 * from being inlined, so that it is a compiled frame of its own), then once
 * with a SIZE buffer it keeps, and prints "ROUND n".  So every round leaks from code
 * compiled after the last one's.  Rounds stop when DIR/stop exists (at
 * most 120 s); then it prints "TRUTH {"chunks":N}" and waits until
 * DIR/done exists (at most 60 s).
 */
public class PerfMapLeak {
    public static class Leaker implements IntFunction<Object> {
        static ByteBuffer leak(int size) {
            ByteBuffer b = ByteBuffer.allocateDirect(size);
            b.put(0, (byte) 1);
            return b;
        }

        public Object apply(int size) {
            return leak(size);
        }
    }

    public static void main(String[] a) throws Exception {
        int size = Integer.parseInt(a[0]);
        File stop = new File(a[1], "stop"), done = new File(a[1], "done");
        URL here = PerfMapLeak.class.getProtectionDomain().getCodeSource().getLocation();
        ArrayList<Object> kept = new ArrayList<>();
        long start = System.nanoTime();
        int rounds = 0;

        while (!stop.exists() && System.nanoTime() - start < 120_000_000_000L) {
            URLClassLoader cl = new URLClassLoader(new URL[] {here}, null);
            @SuppressWarnings("unchecked")
            IntFunction<Object> f = (IntFunction<Object>) cl.loadClass("PerfMapLeak$Leaker")
                                        .getDeclaredConstructor().newInstance();
            long sink = 0;

            for (int i = 0; i < 12000; i++)
                sink += ((ByteBuffer) f.apply(64)).capacity();
            kept.add(f.apply(size));
            rounds++;
            System.out.println("ROUND " + rounds + " " + sink);
            System.out.flush();
            Thread.sleep(300);
        }
        System.out.println("TRUTH {\"chunks\":" + rounds + "}");
        System.out.flush();
        for (int i = 0; i < 6000 && !done.exists(); i++)
            Thread.sleep(10);
    }
}
