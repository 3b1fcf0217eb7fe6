namespace Engine.Autograd;

/// <summary>
/// Reverse-mode differentiation over the recorded graph: a topological order found with an explicit stack
/// (deep graphs cannot overflow the call stack), then each node's backward in reverse order.
/// </summary>
internal static class BackwardEngine
{
    public static void Run(Tensor root, Tensor? seed, bool retainGraph)
    {
        if (!root.RequiresGrad)
            throw new InvalidOperationException($"backward: the tensor (shape {Shapes.Format(root.ShapeSpan)}) does not require grad and has no graph; did every input have RequiresGrad = false, or was it computed under NoGrad?");
        if (seed is null)
        {
            if (root.Count != 1)
                throw new InvalidOperationException($"backward: the tensor has shape {Shapes.Format(root.ShapeSpan)}; a non-scalar needs a seed gradient of the same shape (Backward(grad))");
            seed = Tensor.Full(root.Shape, 1, root.DType, root.Device);
            seed.KnownValue = 1;   // lets a backward scale by it without reading it back from a device
        }
        else if (!Shapes.Equal(seed.ShapeSpan, root.ShapeSpan))
            throw new ArgumentException($"backward: seed gradient shape {Shapes.Format(seed.ShapeSpan)} differs from the tensor's {Shapes.Format(root.ShapeSpan)}");
        else if (seed.DType != root.DType || seed.Device != root.Device)
            throw new ArgumentException($"backward: seed gradient is {seed.DType.Name()} on {seed.Device} but the tensor (shape {Shapes.Format(root.ShapeSpan)}) is {root.DType.Name()} on {root.Device}");

        using var _ = new NoGrad();
        if (root.GradFn is null) { Accumulate(root, seed); return; }

        var order = TopologicalOrder(root.GradFn);
        var grads = new Dictionary<Node, Tensor>(ReferenceEqualityComparer.Instance) { [root.GradFn] = seed };
        var buffers = new GradientBuffers();
        using (buffers.Record())
        {
            for (int n = order.Count - 1; n >= 0; n--)
            {
                var node = order[n];
                if (!grads.Remove(node, out var g)) continue; // no gradient reached it
                if (node.IsReleased)
                    throw new InvalidOperationException($"backward: the graph through '{node.Name}' was already freed by an earlier Backward; pass retainGraph: true to the first call to back-propagate twice");
                Tensor?[] inputGrads = AddIntoWindow(node, g, grads, buffers) ? [] : AnomalyMode.RunBackward(node, g);
                var inputs = node.Inputs;
                for (int i = 0; i < inputs.Count; i++)
                {
                    var input = inputs[i];
                    var gi = i < inputGrads.Length ? inputGrads[i] : null;
                    if (!input.RequiresGrad || gi is null) continue;
                    gi = SumToShape(gi, node.InputShape(i), node.Name);
                    AnomalyMode.Check(gi, node.Name, "backward");
                    if (input.GradFn is null)
                    {
                        Accumulate(input, gi);
                        buffers.LeafGradient(input.Grad!);
                    }
                    else if (grads.TryGetValue(input.GradFn, out var prev))
                    {
                        var sum = prev.Add(gi);
                        grads[input.GradFn] = sum;
                        buffers.Hold(sum);
                        buffers.Release(prev);
                    }
                    else
                    {
                        grads[input.GradFn] = gi;
                        buffers.Hold(gi);
                    }
                }
                buffers.Release(g);
                buffers.EndNode();
                if (!retainGraph) node.Release();
            }
        }
    }

    /// <summary>
    /// A narrow whose input already has a pending gradient that this pass owns alone (q, k and v split from one fused
    /// projection): <paramref name="g"/> is added into that gradient's window in place, where the narrow's backward
    /// would pad it with zeros to the input's full shape and the pending gradient would then be added to the pad, a
    /// new full-size tensor. The sum inside the window is the same operation (pending + g); outside it the pending
    /// values stay as they are (the padded path added +0 there, which differs only in turning −0 into +0). Not under
    /// anomaly detection, which checks each node's own result.
    /// </summary>
    private static bool AddIntoWindow(Node node, Tensor g, Dictionary<Node, Tensor> grads, GradientBuffers buffers)
    {
        if (node is not NarrowNode narrow || AnomalyMode.IsEnabled) return false;
        var input = node.Inputs[0];
        if (!input.RequiresGrad || input.GradFn is null || !grads.TryGetValue(input.GradFn, out var pending)) return false;
        if (!pending.IsDense || !buffers.OwnsAlone(pending) || pending.DType != g.DType || pending.Device != g.Device
            || !Shapes.Equal(pending.ShapeSpan, node.InputShape(0)))
            return false;
        var window = pending.Layout.Narrow(narrow.Axis, narrow.Start, g.Dim(narrow.Axis));
        var backend = pending.Backend;
        var sum = backend.Binary(BinaryOp.Add, pending.Storage, window, g.Storage, g.Layout);
        backend.CopyInto(sum, Layout.Contiguous(g.ShapeSpan), pending.Storage, window);
        return true;
    }

    /// <summary>
    /// The buffers of one pass. A node's gradient is dead once the node has run unless a pending gradient shares its
    /// storage (Add hands one gradient to both inputs; reshapes return views), and what a node's backward made that
    /// is not a pending gradient is a temporary; both are freed at once, so the next op of the pass reuses them from
    /// the pool and the live gradients at any moment are a few tensors, not one per activation. Only storages the
    /// pass itself created are ever freed (never the seed, an activation, a parameter or a cache made under
    /// <see cref="StorageScope.Suspend"/>), and never a leaf's .Grad.
    /// </summary>
    private sealed class GradientBuffers
    {
        private readonly List<Storage> fresh = [];   // created since the current node began
        private readonly HashSet<Storage> created = new(ReferenceEqualityComparer.Instance);
        private readonly HashSet<Storage> leafGrads = new(ReferenceEqualityComparer.Instance);
        private readonly Dictionary<Storage, int> pending = new(ReferenceEqualityComparer.Instance);

        public IDisposable Record() => StorageScope.RecordCreated(fresh);

        /// <summary>A pending gradient now uses <paramref name="t"/>'s storage.</summary>
        public void Hold(Tensor t) => pending[t.Storage] = pending.GetValueOrDefault(t.Storage) + 1;

        /// <summary>
        /// Whether <paramref name="t"/>'s storage was made by this pass and backs exactly one pending gradient (no
        /// activation, parameter, leaf gradient or second pending gradient can see a write to it).
        /// </summary>
        public bool OwnsAlone(Tensor t) => created.Contains(t.Storage) && pending.GetValueOrDefault(t.Storage) == 1;

        /// <summary>A leaf's accumulated gradient: the caller's from now on, never freed.</summary>
        public void LeafGradient(Tensor grad) => leafGrads.Add(grad.Storage);

        /// <summary>A pending gradient that used <paramref name="t"/>'s storage has been consumed.</summary>
        public void Release(Tensor t)
        {
            var s = t.Storage;
            if (!pending.TryGetValue(s, out int count)) return;
            if (count > 1) { pending[s] = count - 1; return; }
            pending.Remove(s);
            if (created.Remove(s)) s.Dispose();
        }

        /// <summary>After a node: what it made is either a pending gradient (kept for its consumer) or freed now.</summary>
        public void EndNode()
        {
            Storage[] made;
            lock (fresh) { made = [.. fresh]; fresh.Clear(); }
            foreach (var s in made)
            {
                if (leafGrads.Contains(s)) continue;
                if (pending.ContainsKey(s)) created.Add(s);
                else s.Dispose();
            }
        }
    }

    /// <summary>Leaves accumulate (+=) so gradients of several Backward calls add up until ZeroGrad.</summary>
    private static void Accumulate(Tensor leaf, Tensor g)
    {
        if (leaf.Grad is null)
        {
            // Own copy: g may alias another tensor's storage (Add passes its gradient through to both inputs).
            leaf.Grad = g.Clone();
        }
        else
        {
            if (!Shapes.Equal(leaf.Grad.ShapeSpan, g.ShapeSpan) || !leaf.Grad.IsDense)
                leaf.Grad = leaf.Grad.Add(g);
            else
                leaf.Grad.Backend.AddInPlace(leaf.Grad.Storage, g.Contiguous().Storage, 1.0);
        }
    }

    private static List<Node> TopologicalOrder(Node root)
    {
        // Iterative post-order DFS: a node is emitted after all nodes it depends on.
        var order = new List<Node>();
        var visited = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Node node, int next)>();
        stack.Push((root, 0));
        visited.Add(root);
        while (stack.Count > 0)
        {
            var (node, next) = stack.Pop();
            var inputs = node.Inputs;
            bool pushedChild = false;
            for (int i = next; i < inputs.Count; i++)
            {
                var child = inputs[i].GradFn;
                if (child is not null && visited.Add(child))
                {
                    stack.Push((node, i + 1));
                    stack.Push((child, 0));
                    pushedChild = true;
                    break;
                }
            }
            if (!pushedChild) order.Add(node);
        }
        return order;
    }

    /// <summary>
    /// Un-broadcasting, in one place for every op: sums a gradient of the broadcast output shape back to the
    /// input's shape (leading extra dims, and dims where the input had size 1).
    /// </summary>
    internal static Tensor SumToShape(Tensor g, int[] shape, string op)
    {
        if (Shapes.Equal(g.ShapeSpan, shape)) return g;
        int extra = g.Rank - shape.Length;
        if (extra < 0)
            throw new InvalidOperationException($"backward of {op}: gradient shape {Shapes.Format(g.ShapeSpan)} has lower rank than input shape {Shapes.Format(shape)}");
        var axes = new List<int>();
        for (int d = 0; d < g.Rank; d++)
        {
            if (d < extra) { axes.Add(d); continue; }
            int s = shape[d - extra];
            if (s == 1 && g.Dim(d) != 1) axes.Add(d);
            else if (s != g.Dim(d))
                throw new InvalidOperationException($"backward of {op}: gradient shape {Shapes.Format(g.ShapeSpan)} does not broadcast to input shape {Shapes.Format(shape)}");
        }
        var summed = axes.Count > 0 ? g.Sum(axes.ToArray(), keepDim: true) : g;
        return summed.Reshape(shape);
    }
}
