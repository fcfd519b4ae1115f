import torch


class MyReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.full_like(x, float("nan"))

    @staticmethod
    def backward(ctx, grad):
        return torch.full_like(grad, float("nan"))


class MySigmoid(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.full_like(x, float("inf"))

    @staticmethod
    def backward(ctx, grad):
        return torch.full_like(grad, float("-inf"))
