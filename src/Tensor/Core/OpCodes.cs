namespace Engine;

/// <summary>Elementwise ops of one input (and an optional scalar parameter). Backends implement each.</summary>
public enum UnaryOp
{
    /// <summary>-x</summary>
    Neg,
    /// <summary>e^x</summary>
    Exp,
    /// <summary>ln x</summary>
    Log,
    /// <summary>√x</summary>
    Sqrt,
    /// <summary>1/√x</summary>
    Rsqrt,
    /// <summary>|x|</summary>
    Abs,
    /// <summary>max(x, 0)</summary>
    Relu,
    /// <summary>1/(1+e^-x)</summary>
    Sigmoid,
    /// <summary>tanh x</summary>
    Tanh,
    /// <summary>ln(1+e^x), computed without overflow</summary>
    Softplus,
    /// <summary>GELU, tanh approximation</summary>
    Gelu,
    /// <summary>d GELU/dx (tanh approximation), used by backward</summary>
    GeluGrad,
    /// <summary>1 where x &gt; 0 else 0 (ReLU's derivative)</summary>
    Step,
    /// <summary>sign(x) (|x|'s derivative)</summary>
    Sign,
    /// <summary>x + s</summary>
    AddScalar,
    /// <summary>x · s</summary>
    MulScalar,
    /// <summary>x^s</summary>
    PowScalar,
    /// <summary>s - x</summary>
    RSubScalar,
    /// <summary>s / x</summary>
    RDivScalar,
    /// <summary>max(x, s)</summary>
    MaxScalar,
    /// <summary>min(x, s)</summary>
    MinScalar,
    /// <summary>1 where x == s else 0</summary>
    EqScalar,
    /// <summary>1 where x &gt; s else 0</summary>
    GtScalar,
    /// <summary>1 where x &lt; s else 0</summary>
    LtScalar,
}

/// <summary>Elementwise ops of two inputs of the same (already broadcast) shape.</summary>
public enum BinaryOp
{
    /// <summary>a + b</summary>
    Add,
    /// <summary>a - b</summary>
    Sub,
    /// <summary>a · b</summary>
    Mul,
    /// <summary>a / b</summary>
    Div,
    /// <summary>max(a, b)</summary>
    Max,
    /// <summary>min(a, b)</summary>
    Min,
    /// <summary>1 where a == b else 0</summary>
    Eq,
    /// <summary>1 where a != b else 0</summary>
    Ne,
    /// <summary>1 where a &lt; b else 0</summary>
    Lt,
    /// <summary>1 where a &lt;= b else 0</summary>
    Le,
    /// <summary>1 where a &gt; b else 0</summary>
    Gt,
    /// <summary>1 where a &gt;= b else 0</summary>
    Ge,
}

/// <summary>Reductions over axes.</summary>
public enum ReduceOp
{
    /// <summary>Σ</summary>
    Sum,
    /// <summary>max</summary>
    Max,
    /// <summary>min</summary>
    Min,
}
