namespace NtkDsl.Backends;

/// <summary>Shape checks shared by generated code and host entry points; messages name the argument, the expected and the given shape.</summary>
public static class Shapes
{
    /// <summary>Throws unless <paramref name="tensor"/> is [rows, cols] and has at least one row.</summary>
    public static void Require<TBackend, TTensor>(TBackend backend, TTensor tensor, string name, int rows, int cols)
        where TBackend : ITensorBackend<TTensor>
    {
        int r = backend.Rows(tensor), c = backend.Cols(tensor);
        if (r != rows || c != cols)
            throw new ArgumentException($"'{name}' must have shape [{rows}, {cols}], but has shape [{r}, {c}].", name);
        if (rows == 0)
            throw new ArgumentException($"'{name}' is empty (0 rows); pass at least one sample.", name);
    }
}
