using NtkDsl;

namespace Consumer;

// Two wrong declarations: each must fail the build with its own NTK#### error.
[Network(Inputs = 3)]
[Dense(0)]
public partial class ZeroWidth;       // NTK0004: Dense width must be positive

[Network(Inputs = 3)]
[Dense(1)]
public class NotPartial;              // NTK0001: network class must be partial

public static class Program
{
    public static void Main() { }
}
