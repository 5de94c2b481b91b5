using System.Reflection;

namespace NasPrune.Common;

/// <summary>NasPrune's version (Directory.Build.props), recorded in every pairs protocol, pair row and campaign record.</summary>
public static class ProductVersion
{
    public static string Current { get; } =
        typeof(ProductVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0";
}
