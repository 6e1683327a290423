import java.io.File;
import java.nio.ByteBuffer;
import java.util.ArrayList;

/*
 * JavaFrames: a direct-memory leak along a known chain of application
 * methods, for tests/integration/test_java_frames.py.
 *
 * usage: java JavaFrames WARMUPS CHUNKS DIR
 *
 * The chain is handleRequest -> copyPayload -> retainCopy -> leakOne,
 * which allocates a direct buffer.  The main thread first runs the chain
 * WARMUPS times with 64-byte buffers it keeps and drops at once (enough for
 * the JIT to compile the chain, the branch that keeps included, so that the
 * kept chunks do not deoptimize it), prints "WARM", waits until DIR/go exists, then runs
 * it CHUNKS times with 16 MiB buffers it keeps, prints
 *   TRUTH {"chunks":N}
 * and waits until DIR/done exists (at most 60 s).
 */
public class JavaFrames {
    static final ArrayList<ByteBuffer> kept = new ArrayList<>();

    static ByteBuffer leakOne(int size) {
        ByteBuffer b = ByteBuffer.allocateDirect(size);
        b.put(0, (byte) 1);
        return b;
    }

    static ByteBuffer retainCopy(int size, boolean keep) {
        ByteBuffer b = leakOne(size);
        if (keep)
            kept.add(b);
        return b;
    }

    static int copyPayload(int size, boolean keep) {
        return retainCopy(size, keep).capacity() + 1;
    }

    static int handleRequest(int size, boolean keep) {
        return copyPayload(size, keep) - 1;
    }

    static void waitFor(File f) throws InterruptedException {
        for (int i = 0; i < 6000 && !f.exists(); i++)
            Thread.sleep(10);
    }

    public static void main(String[] a) throws Exception {
        int warmups = Integer.parseInt(a[0]), chunks = Integer.parseInt(a[1]);
        File dir = new File(a[2]);
        long sink = 0;
        for (int i = 0; i < warmups; i++) {
            sink += handleRequest(64, true);
            kept.clear();
        }
        System.out.println("WARM " + sink);
        System.out.flush();
        waitFor(new File(dir, "go"));
        for (int i = 0; i < chunks; i++)
            sink += handleRequest(16 << 20, true);
        System.out.println("TRUTH {\"chunks\":" + chunks + "}");
        System.out.flush();
        waitFor(new File(dir, "done"));
        if (sink == 42)
            System.out.println(kept.size());
    }
}
