import java.io.File;
import java.nio.ByteBuffer;
import java.util.ArrayList;

/*
 * StackLeak: direct ByteBuffers along a known Java path, for the stack
 * tests (tests/integration/test_stacks.py).
 *
 * usage: java StackLeak WARMUPS CHUNKS DIR
 *
 * Starts a thread named "nioEventLoopGroup-2-1" that allocates one direct
 * 16 MiB buffer (through leakDirect) and then sleeps until the end.  The
 * main thread calls leakDirect(64) WARMUPS times, dropping the buffers, so
 * that the method is JIT-compiled (run it with -Xbatch and
 * -XX:CompileCommand=dontinline,StackLeak::leakDirect to get it compiled on
 * its own, in the foreground), prints "WARM", and waits until DIR/go
 * exists; then it allocates CHUNKS direct 16 MiB buffers through
 * leakDirect, keeps them, prints
 *   TRUTH {"chunks":N,"thread_chunks":1}
 * and waits until DIR/done exists (at most 60 s) before exiting.
 */
public class StackLeak {
    static final ArrayList<ByteBuffer> keep = new ArrayList<>();

    static ByteBuffer leakDirect(int size) {
        ByteBuffer b = ByteBuffer.allocateDirect(size);
        b.put(0, (byte) 1);
        return b;
    }

    static void waitFor(File f) throws InterruptedException {
        for (int i = 0; i < 6000 && !f.exists(); i++)
            Thread.sleep(10);
    }

    public static void main(String[] a) throws Exception {
        int warmups = Integer.parseInt(a[0]), chunks = Integer.parseInt(a[1]);
        File dir = new File(a[2]);
        final File done = new File(dir, "done");
        final Object started = new Object();
        final boolean[] ready = {false};
        Thread loop = new Thread(() -> {
            synchronized (keep) {
                keep.add(leakDirect(16 << 20));
            }
            synchronized (started) {
                ready[0] = true;
                started.notifyAll();
            }
            try {
                waitFor(done);
            } catch (InterruptedException e) {
            }
        }, "nioEventLoopGroup-2-1");
        loop.setDaemon(true);
        loop.start();
        synchronized (started) {
            while (!ready[0])
                started.wait();
        }
        long sink = 0;
        for (int i = 0; i < warmups; i++)
            sink += leakDirect(64).capacity();
        System.out.println("WARM " + sink);
        System.out.flush();
        waitFor(new File(dir, "go"));
        for (int i = 0; i < chunks; i++) {
            ByteBuffer b = leakDirect(16 << 20);
            synchronized (keep) {
                keep.add(b);
            }
        }
        System.out.println("TRUTH {\"chunks\":" + chunks + ",\"thread_chunks\":1}");
        System.out.flush();
        waitFor(done);
        synchronized (keep) {
            if (keep.size() > 1 << 20)
                System.out.println(keep.get(0));
        }
    }
}
