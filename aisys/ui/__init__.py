"""Rich renderables shared by every lab: small composable pieces that know no topic."""
